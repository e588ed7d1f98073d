"""Demo canned responses for Helpwanted and Stop it Now!, in each service's own tone."""

from sqlalchemy import select

from helpline.canned.models import CannedResponse
from helpline.extensions import db
from helpline.inbox.models import Service

# service, shortcut, language, title, text
DEMO_RESPONSES = [
    (
        "helpwanted",
        "welkom",
        "nl",
        "Welkom",
        "Hoi, je chat met {counsellor} van {service}. Fijn dat je contact opneemt! Je bent hier "
        "anoniem: je hoeft je naam niet te noemen. Vertel maar wat er is gebeurd, dan kijken we "
        "samen wat je kunt doen.",
    ),
    (
        "helpwanted",
        "welkom",
        "en",
        "Welcome",
        "Hi, you're chatting with {counsellor} from {service}. Good that you got in touch! You "
        "are anonymous here: you don't have to tell us your name. Tell me what happened, and "
        "we'll look at what you can do together.",
    ),
    (
        "helpwanted",
        "afpersing",
        "nl",
        "Afpersing met beelden",
        "Word je afgeperst met beelden van jezelf? Maak geen geld over: betalen maakt er bijna "
        "nooit een einde aan. Stop het contact, maar verwijder het gesprek nog niet. Maak "
        "screenshots van de chat, het profiel en de betaalgegevens: daarmee kun je aangifte doen "
        "bij de politie. Het is niet jouw schuld, en je staat er niet alleen voor.",
    ),
    (
        "helpwanted",
        "afpersing",
        "en",
        "Sextortion",
        "Is someone threatening to share images of you unless you pay? Don't send any money: "
        "paying almost never makes it stop. Stop the contact, but don't delete the chat yet. "
        "Take screenshots of the chat, the profile and the payment details: you can use them to "
        "report it to the police. It is not your fault, and you are not on your own.",
    ),
    (
        "helpwanted",
        "verwijderen",
        "nl",
        "Beelden laten verwijderen",
        "Staan er foto's of filmpjes van je online? Stuur ons de links ernaartoe, niet de beelden "
        "zelf. {service} is 'trusted flagger' bij de grote sociale media: ons verzoek om iets "
        "te verwijderen krijgt daar voorrang.",
    ),
    (
        "helpwanted",
        "tijden",
        "nl",
        "Openingstijden van de chat",
        "De chat van {service} is open {hours}. Buiten die tijden kun je ons formulier invullen: "
        "met je code en geheim lees je daarna ons antwoord.",
    ),
    (
        "helpwanted",
        "tijden",
        "en",
        "Chat opening hours",
        "The {service} chat is open {hours}. At other times you can fill in our form: with your "
        "code and secret you can read our answer afterwards.",
    ),
    (
        "stopitnow",
        "welkom",
        "nl",
        "Welkom",
        "Goed dat je contact opneemt met {service}. Je spreekt met {counsellor}. Dit gesprek is "
        "anoniem en vertrouwelijk: je hoeft je naam niet te noemen. Waar maak je je zorgen over?",
    ),
    (
        "stopitnow",
        "welkom",
        "en",
        "Welcome",
        "Thank you for contacting {service}. My name is {counsellor}. This conversation is "
        "anonymous and confidential: you don't need to give your name. What are you worried "
        "about?",
    ),
    (
        "stopitnow",
        "vervolg",
        "nl",
        "Vervolggesprek met een therapeut",
        "Je kunt een vervolggesprek hebben met een van onze therapeuten. Dat is gratis en "
        "anoniem: je krijgt een code, en op de afgesproken tijd belt de therapeut je of chat je "
        "met elkaar. Zal ik een afspraak voor je maken?",
    ),
    (
        "stopitnow",
        "zorgen-ander",
        "nl",
        "Zorgen over iemand anders",
        "Je maakt je zorgen over iemand in je omgeving. Dat is niet makkelijk. Vertel gerust wat "
        "je hebt gezien of gehoord; we denken met je mee over wat je kunt doen, zonder dat je "
        "namen hoeft te noemen.",
    ),
    (
        "stopitnow",
        "tijden",
        "nl",
        "Bereikbaarheid",
        "De hulplijn van {service} is gratis en anoniem bereikbaar {hours}.",
    ),
    (
        "stopitnow",
        "tijden",
        "en",
        "When we can be reached",
        "The {service} helpline is free and anonymous, and open {hours}.",
    ),
]


def seed() -> None:
    """Add the demo responses that are missing, for the services that exist."""
    services = {s.slug: s.id for s in db.session.scalars(select(Service))}
    existing = {
        tuple(row)
        for row in db.session.execute(
            select(CannedResponse.service_id, CannedResponse.shortcut, CannedResponse.language)
        )
    }
    for slug, shortcut, language, title, text in DEMO_RESPONSES:
        service_id = services.get(slug)
        if service_id is None or (service_id, shortcut, language) in existing:
            continue
        db.session.add(
            CannedResponse(
                service_id=service_id, shortcut=shortcut, language=language, title=title, text=text
            )
        )
    db.session.commit()

"""What callers hear: TwiML for each step of a call, in Dutch."""

from flask import current_app, url_for
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from helpline.inbox import hours
from helpline.inbox.models import Service

LANGUAGE = "nl-NL"

GREETING = (
    "Welkom bij {name}. Je belt anoniem. "
    "Een moment geduld, we verbinden je zo met een hulpverlener."
)
WAITING = "Alle hulpverleners zijn nog in gesprek. Blijf aan de lijn, je bent zo aan de beurt."
CLOSED = "Je belt buiten onze openingstijden. We zijn bereikbaar {hours}."
BUSY = "Op dit moment kan er niemand opnemen."
MENU = "Druk op 1 om een bericht in te spreken. Druk op 2 als je wilt dat we je terugbellen."
MENU_WITHHELD = (
    "Je belt met een afgeschermd nummer, daarom kunnen we je niet terugbellen. "
    "Druk op 1 om een bericht in te spreken, of bel later opnieuw."
)
NO_CHOICE = "We hebben geen keuze gehoord. Bel gerust later opnieuw. Tot ziens."
UNKNOWN_CHOICE = "Die keuze kennen we niet."
RECORD = (
    "Spreek je bericht in na de piep. Je hebt maximaal {minutes} minuten. "
    "Hang op of druk op hekje als je klaar bent."
)
RECORDED = "Dank je wel voor je bericht. We luisteren het zo snel mogelijk af. Tot ziens."
NOT_RECORDED = "We hebben geen bericht gehoord. Bel gerust later opnieuw. Tot ziens."
CALLBACK = (
    "We bellen je terug zodra er een hulpverlener vrij is, vanaf het nummer dat je nu belt. "
    "Tot ziens."
)
GOODBYE = "Dank je wel voor het bellen. Tot ziens."
SURVEY_INTRO = (
    "Wil je nog drie korte vragen over het gesprek beantwoorden? Het is anoniem. "
    "Hang gerust op als je dat niet wilt."
)
SURVEY_QUESTIONS = {
    "satisfied": "Ben je tevreden over het gesprek?",
    "felt_better": "Voel je je beter na het gesprek?",
    "would_recommend": "Zou je ons aanraden aan anderen?",
}
SURVEY_KEYS = "Druk 1 voor ja, 2 voor nee."
SURVEY_UNKNOWN_KEY = "Die toets kennen we niet."
SURVEY_THANKS = "Dank je wel voor je antwoorden. Tot ziens."
UNKNOWN_NUMBER = "Dit nummer is niet in gebruik."
KEPT_OUT = (
    "Je kunt ons nu niet bellen. Je kunt wel een bericht achterlaten via het contactformulier "
    "op onze website. Tot ziens."
)
STAFF_CALLBACK = "Terugbelverzoek. De beller wordt nu gebeld."


def _say(response: VoiceResponse | Gather, text: str) -> None:
    response.say(text, language=LANGUAGE, voice=current_app.config["PHONE_VOICE"])


def spoken_hours(spec: str) -> str:
    """Opening hours as a sentence: 'van maandag tot en met vrijdag van 9:00 tot 17:00'."""
    return hours.in_words(spec, "nl")


def enqueue(service: Service, *, greet: bool = True) -> str:
    """Greet the caller and put them in the service's queue."""
    response = VoiceResponse()
    if greet:
        _say(response, GREETING.format(name=service.name.rstrip("!. ")))
    response.enqueue(
        service.slug, action=url_for("phone.queue"), method="POST", wait_url=url_for("phone.wait")
    )
    return str(response)


def waiting(first: bool, leave: bool) -> str:
    """Played in a loop while the caller waits; `leave` ends the wait and leads to the menu."""
    response = VoiceResponse()
    if leave:
        response.leave()
        return str(response)
    if not first:
        _say(response, WAITING)
    response.pause(length=15)
    return str(response)


def menu(service: Service, *, closed: bool, withheld: bool, prompt: str | None = None) -> str:
    """Closed or nobody free: the opening hours, then voicemail or callback."""
    response = VoiceResponse()
    if prompt:
        _say(response, prompt)
    _say(response, CLOSED.format(hours=spoken_hours(service.opening_hours)) if closed else BUSY)
    gather = Gather(num_digits=1, action=url_for("phone.gather"), method="POST", timeout=8)
    _say(gather, MENU_WITHHELD if withheld else MENU)
    response.append(gather)
    _say(response, NO_CHOICE)
    response.hangup()
    return str(response)


def record() -> str:
    """Record a voicemail of limited length."""
    seconds = current_app.config["PHONE_VOICEMAIL_SECONDS"]
    response = VoiceResponse()
    _say(response, RECORD.format(minutes=max(1, round(seconds / 60))))
    response.record(
        action=url_for("phone.recording"),
        method="POST",
        max_length=seconds,
        finish_on_key="#",
        play_beep=True,
        timeout=10,
    )
    _say(response, NOT_RECORDED)
    response.hangup()
    return str(response)


def goodbye(text: str = GOODBYE) -> str:
    """Say something and hang up."""
    response = VoiceResponse()
    _say(response, text)
    response.hangup()
    return str(response)


def survey_question(question: str, *, intro: bool = False, again: bool = False) -> str:
    """One question of the keypad survey; without a key pressed, the call ends."""
    response = VoiceResponse()
    if intro:
        _say(response, SURVEY_INTRO)
    if again:
        _say(response, SURVEY_UNKNOWN_KEY)
    action = url_for("keypad_survey.answer", q=question, **({"again": 1} if again else {}))
    gather = Gather(num_digits=1, action=action, method="POST", timeout=8)
    _say(gather, SURVEY_QUESTIONS[question])
    _say(gather, SURVEY_KEYS)
    response.append(gather)
    _say(response, GOODBYE)
    response.hangup()
    return str(response)


def empty() -> str:
    """Nothing more to do for this request."""
    return str(VoiceResponse())


def put_through(endpoint: str, service_number: str, staff_id: int) -> str:
    """Connect the waiting caller to the counsellor who accepted the call.

    The counsellor's phone shows the service's number, never the caller's. The Dial's report
    names the counsellor, so a late report of an earlier attempt is recognised as such.
    """
    response = VoiceResponse()
    dial = Dial(
        # Absolute: Twilio resolves no relative URL in instructions given through its API.
        action=current_app.config["PUBLIC_URL"] + url_for("phone.dial", to=staff_id),
        method="POST",
        timeout=current_app.config["PHONE_DIAL_TIMEOUT"],
        caller_id=service_number,
    )
    _dial_endpoint(dial, endpoint)
    response.append(dial)
    return str(response)


def call_back(caller_number: str, service_number: str, status_url: str) -> str:
    """The counsellor's leg of a callback: once they answer, ring the caller."""
    response = VoiceResponse()
    response.say(STAFF_CALLBACK, language=LANGUAGE, voice=current_app.config["PHONE_VOICE"])
    dial = Dial(caller_id=service_number, timeout=30)
    dial.number(
        caller_number,
        status_callback=status_url,
        status_callback_event="initiated ringing answered completed",
        status_callback_method="POST",
    )
    response.append(dial)
    return str(response)


def _dial_endpoint(dial: Dial, endpoint: str) -> None:
    if endpoint.startswith("client:"):
        dial.client(endpoint.removeprefix("client:"))
    else:
        dial.number(endpoint)

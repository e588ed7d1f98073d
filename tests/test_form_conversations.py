"""A contact form in the inbox: its answers read as the form's questions and choices, in English,
and the conversation is finished for wrap-up rather than ended like a chat."""

import re

from tests.test_forms import helpwanted_answers, send


def first_message(counsellor) -> str:
    return counsellor.emit("open", {"conversation_id": 1})["messages"][0]["body"]


def test_form_answers_show_under_their_questions_with_the_chosen_words(app, client, counsellor):
    anna = counsellor()
    send(client, **helpwanted_answers(about="someone_else", age_band="12_15"))

    body = first_message(anna)

    assert "Who is it about?\nAbout someone else, for example my child or a friend" in body
    assert "How old is the person it is about?\n12\N{EN DASH}15 years" in body
    assert "What happened?\nIemand dreigt mijn foto's te delen" in body
    assert "Which app or website was it on?\nInstagram" in body
    links = "https://example.org/profiel/123\nhttp://example.net/a?b=c"
    assert f"Links (web addresses)\n{links}" in body
    for raw_key in ("12_15", "someone_else", "age_band", "Age:"):
        assert raw_key not in body


def test_answers_are_in_english_for_staff_whatever_language_the_form_was_sent_in(
    app, client, counsellor
):
    anna = counsellor()
    client.post("/form/helpwanted?lang=nl", data=helpwanted_answers(age_band="25_plus"))

    body = first_message(anna)

    assert "How old is the person it is about?\n25 or older" in body
    assert "Hoe oud" not in body


def test_a_choice_reads_in_the_words_of_its_own_service(app, client, counsellor):
    anna = counsellor()
    answers = {"submission_key": "k" * 24, "about": "myself", "question": "Mag ik iets vragen?"}
    assert send(client, slug="stopitnow", **answers).status_code == 200

    body = first_message(anna)

    assert body == (
        "What is your question about?\nMy own feelings or behaviour\n\n"
        "What would you like to ask or tell us?\nMag ik iets vragen?"
    )


def test_the_anonymised_export_uses_the_same_questions_and_choices(app, client, counsellor):
    send(client, **helpwanted_answers(age_band="16_17"))
    anna = counsellor()
    anna.claim(1)

    text = anna.http.post("/inbox/conversations/1/export").get_data(as_text=True)

    assert "How old is the person it is about?\n16\N{EN DASH}17 years" in text
    assert "16_17" not in text


def test_the_inbox_names_the_form_s_wrap_up_button_and_offers_no_end_chat_for_it(app, counsellor):
    anna = counsellor()
    page = anna.http.get("/inbox").get_data(as_text=True)
    script = (app.static_folder + "/js/inbox/conversation.js").replace("//", "/")

    assert '"finish_form": "Finish and wrap up"' in page
    with open(script) as source:
        labels = re.search(r"const END_LABELS = (\{.*?\});", source.read()).group(1)
    assert 'form: "finish_form"' in labels and 'chat: "end_chat"' in labels

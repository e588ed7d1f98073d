"""The phone line on Twilio Voice: signed webhooks, TwiML, callbacks through the REST API."""

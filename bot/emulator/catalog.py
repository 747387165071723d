"""The emulator's fixed catalogue: stream containers, card templates and Action Flows.

Wire shapes follow docs/atomic-contract.md (#stream-containers, #card-definitions, #action-flows).
Everything here is static; demo_data.py builds customers and card instances on top of it.
"""

from __future__ import annotations

from typing import Any

IMAGE_BASE = "https://images.example.com/cards"
HELP_BASE = "https://help.example.com"

HOME_STREAM = "BqWL1sT"
OFFERS_STREAM = "Xm3pQ8r"
SECURITY_STREAM = "Kd7vN2a"
SUPPORT_STREAM = "Hs4tR9e"

_LIGHT = {"background": "#F4F5F7", "card": "#FFFFFF", "text": "#1D1D1F",
          "secondaryText": "#6E6E73", "accent": "#0A84FF", "border": "#D2D2D7"}
_DARK = {"background": "#000000", "card": "#1C1C1E", "text": "#F5F5F7",
         "secondaryText": "#A1A1A6", "accent": "#0A84FF", "border": "#38383A"}


def containers() -> list[dict[str, Any]]:
    """Stream containers: Home (default, light+dark), Security (light+dark), Offers, Help."""
    return [
        {"id": "c_home", "name": "Home", "streamId": HOME_STREAM, "default": True, "cardLimit": 50,
         "themes": {"light": {"name": "Brand light", "colors": dict(_LIGHT)},
                    "dark": {"name": "Brand dark", "colors": dict(_DARK)}}},
        {"id": "c_security", "name": "Security centre", "streamId": SECURITY_STREAM,
         "default": False, "cardLimit": 20,
         "themes": {"light": {"name": "Security light",
                              "colors": {**_LIGHT, "accent": "#C4314B"}},
                    "dark": {"name": "Midnight",
                             "colors": {**_DARK, "accent": "#FF6961", "card": "#121214"}}}},
        {"id": "c_offers", "name": "Offers", "streamId": OFFERS_STREAM, "default": False,
         "cardLimit": 10,
         "themes": {"light": {"name": "Offers light",
                              "colors": {**_LIGHT, "accent": "#1E8E3E"}}}},
        {"id": "c_help", "name": "Help & support", "streamId": SUPPORT_STREAM, "default": False,
         "cardLimit": 25,
         "themes": {"light": {"name": "Support light",
                              "colors": {**_LIGHT, "accent": "#8E44AD"}}}},
    ]


def _view(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": list(nodes)}


def _options(*pairs: tuple[str, str], key: str = "value",
             label: str = "title") -> list[dict[str, str]]:
    return [{key: value, label: title} for value, title in pairs]


def _template(template_id: str, name: str, default_nodes: list[dict[str, Any]],
              *, details: list[dict[str, Any]] | None = None,
              minimum: dict[str, str] | None = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"defaultView": {"nodes": default_nodes}}
    if details is not None:
        definition["subviews"] = {"details": {"title": "Details", "nodes": details}}
    if minimum:
        definition["minimumSdkVersions"] = minimum
    return {"cardTemplateId": template_id, "cardTemplateName": name, "definition": definition}


def templates() -> dict[str, dict[str, Any]]:
    """Card templates by id: name and definition. Together they use every input kind."""
    items = [
        _template("tpl_caller_verification", "Verify your caller", [
            {"type": "category", "text": "Security"},
            {"type": "headline", "text": "Did we just call you?"},
            {"type": "text", "text": "Your verification code is **{{code}}**. Only share it with "
                                     "the person on the phone if the code matches."},
            {"type": "radioGroup", "name": "radio_z9y8x", "label": "Was it you?",
             "items": _options(("yes", "Yes, that was me"), ("no", "No, I didn't"),
                               key="value", label="label")},
            {"type": "submitButton", "name": "submit_confirm", "text": "Confirm"},
            {"type": "linkButton", "text": "Why we ask", "url": f"{HELP_BASE}/verification"},
        ], minimum={"submitButton.name": "24.2.0"}),
        _template("tpl_fraud_alert", "Suspicious transaction", [
            {"type": "category", "text": "Fraud alert"},
            {"type": "image", "url": f"{IMAGE_BASE}/card-alert.png", "alt": "A bank card"},
            {"type": "headline", "text": "Did you spend {{amount}} at {{merchant}}?"},
            {"type": "text", "text": "We noticed a payment in {{country}} that looks unusual."},
            {"type": "radioGroup", "name": "radio_q2w3e",
             "items": _options(("mine", "It was me"), ("not_mine", "It wasn't me"),
                               ("unsure", "Not sure"), key="value", label="label")},
            {"type": "textInput", "name": "textInput_z3jr7",
             "placeholder": "Anything we should know?"},
            {"type": "fileUpload", "name": "fileUpload_c5v6b", "label": "Receipt"},
            {"type": "submitButton", "name": "submit_report", "text": "Send answer"},
            {"type": "snoozeButton", "text": "Remind me later"},
        ], details=[{"type": "text", "text": "Card ending **4242**. Merchant: {{merchant}}."}],
            minimum={"fileUpload": "24.1.0"}),
        _template("tpl_post_call", "How did we do?", [
            {"type": "headline", "text": "Thanks for calling us today"},
            {"type": "stepper", "name": "stepper_m3n4b", "label": "Rating", "min": 1, "max": 5},
            {"type": "textInput", "name": "textInput_comments", "label": "Comments",
             "placeholder": "Tell us more"},
            {"type": "switch", "name": "switch_p0o9i", "label": "Keep me updated"},
            {"type": "checkboxGroup", "name": "checkbox_ab12c", "label": "Contact me by",
             "items": _options(("email", "Email"), ("sms", "SMS"), ("phone", "Phone call"),
                               ("post", "Post"), key="key", label="label")},
            {"type": "submitButton", "name": "submit_feedback", "text": "Send feedback"},
        ]),
        _template("tpl_appointment", "Appointment reminder", [
            {"type": "category", "text": "Appointments"},
            {"type": "headline", "text": "Your appointment on {{appointment_date}}"},
            {"type": "text", "text": "See you at {{location}}. Need another day?"},
            {"type": "datePicker", "name": "datePicker_q81xs", "label": "Preferred date"},
            {"type": "dropdown", "name": "dropdown_a1b2c", "label": "Time of day",
             "values": _options(("morning", "Morning"), ("afternoon", "Afternoon"),
                                ("evening", "Evening"))},
            {"type": "submitButton", "name": "submit_reschedule", "text": "Reschedule"},
            {"type": "snoozeButton", "text": "Remind me tomorrow"},
        ], minimum={"datePicker": "23.3.0"}),
        _template("tpl_update_details", "Update your details", [
            {"type": "headline", "text": "Is this still your address?"},
            {"type": "textInput", "name": "textInput_addr01", "label": "Street address"},
            {"type": "numberInput", "name": "numberInput_k2p9a"},
            {"type": "datePicker", "name": "datePicker_dob4x", "label": "Date of birth"},
            {"type": "checkboxGroup", "name": "checkbox_pref9z", "label": "Send me",
             "items": _options(("statements", "Statements"), ("offers", "Offers"),
                               ("news", "Newsletter"), key="key", label="label")},
            {"type": "submitButton", "name": "submit_details", "text": "Save"},
        ], details=[{"type": "text", "text": "We keep your details private."}],
            minimum={"datePicker": "23.3.0"}),
        _template("tpl_loan_offer", "Home loan pre-approval", [
            {"type": "category", "text": "Offers"},
            {"type": "image", "url": f"{IMAGE_BASE}/home-loan.jpg", "alt": "A house at dusk"},
            {"type": "headline", "text": "You're pre-approved for a home loan"},
            {"type": "numberInput", "name": "numberInput_loan1", "label": "Amount you need"},
            {"type": "dropdown", "name": "dropdown_term7", "label": "Loan term",
             "values": _options(("15y", "15 years"), ("20y", "20 years"), ("30y", "30 years"))},
            {"type": "switch", "name": "switch_fixed", "label": "Fixed rate"},
            {"type": "fileUpload", "name": "fileUpload_pay88", "label": "Latest payslip"},
            {"type": "submitButton", "name": "submit_apply", "text": "Apply"},
            {"type": "linkButton", "text": "Rates and fees", "url": f"{HELP_BASE}/home-loans"},
        ], minimum={"fileUpload": "24.1.0"}),
        _template("tpl_welcome", "Welcome to the app", [
            {"type": "image", "url": f"{IMAGE_BASE}/welcome.png", "alt": "Waving hand"},
            {"type": "headline", "text": "Welcome aboard!"},
            {"type": "text", "text": "Here's where you'll find messages from our team."},
            {"type": "submitButton", "name": "submit_ok", "text": "Got it"},
            {"type": "linkButton", "text": "Take the tour", "url": f"{HELP_BASE}/tour"},
        ]),
        _template("tpl_survey", "Quick survey", [
            {"type": "headline", "text": "Help us improve"},
            {"type": "radioGroup", "name": "radio_k8l7j", "label": "How often do you use the app?",
             "items": _options(("daily", "Daily"), ("weekly", "Weekly"), ("monthly", "Monthly"),
                               key="value", label="label")},
            {"type": "checkboxGroup", "name": "checkboxGroup_u6t5r",
             "items": _options(("payments", "Payments"), ("savings", "Savings"),
                               ("insurance", "Insurance"), ("investing", "Investing"),
                               ("travel", "Travel money"), key="key", label="label")},
            {"type": "stepper", "name": "stepper_x1c2v", "min": 0, "max": 10},
            {"type": "textInput", "name": "textInput_w4e5r", "label": "Anything else?"},
            {"type": "submitButton", "name": "submit_survey", "text": "Submit"},
        ]),
        _template("tpl_branch_update", "Changes at your branch", [
            {"type": "headline", "text": "Branch changes near you"},
            {"type": "text", "text": "{{message}}"},
            {"type": "linkButton", "text": "Find a branch", "url": f"{HELP_BASE}/branches"},
        ]),
        _template("tpl_card_replacement", "Your new card is on its way", [
            {"type": "headline", "text": "Replacement for card ending {{last4}}"},
            {"type": "submitButton", "name": "submit_received", "text": "I've received it"},
        ]),
    ]
    return {t["cardTemplateId"]: t for t in items}


# Templates used for the demo feed (the last two only come from flows started at run time).
FEED_TEMPLATES = ("tpl_caller_verification", "tpl_fraud_alert", "tpl_post_call", "tpl_appointment",
                  "tpl_update_details", "tpl_loan_offer", "tpl_welcome", "tpl_survey")

# Where each template's cards are usually targeted (None: the default "All cards" stream).
TEMPLATE_STREAMS: dict[str, str | None] = {
    "tpl_caller_verification": SECURITY_STREAM, "tpl_fraud_alert": SECURITY_STREAM,
    "tpl_post_call": SUPPORT_STREAM, "tpl_appointment": None, "tpl_update_details": HOME_STREAM,
    "tpl_loan_offer": OFFERS_STREAM, "tpl_welcome": None, "tpl_survey": HOME_STREAM,
}


def _var(name: str, kind: str, description: str, *, required: bool = False,
         default: Any = None) -> dict[str, Any]:
    return {"name": name, "type": kind, "required": required, "default": default,
            "description": description}


def flows() -> list[dict[str, Any]]:
    """Action Flows in the detail shape (`GET action-flows/{id}` data)."""
    updated = "2025-05-02T09:30:00.000Z"
    return [
        {"id": "flow_caller_verification", "name": "Caller verification", "status": "published",
         "updated": updated, "description": "Shows the customer the code read out on the call.",
         "variables": [_var("code", "number", "Code read out on the call", required=True)]},
        {"id": "flow_fraud_alert", "name": "Fraud alert", "status": "published", "updated": updated,
         "description": "Asks the customer to confirm a suspicious payment.",
         "variables": [_var("amount", "string", "Amount with currency, e.g. NZ$120.00",
                            required=True),
                       _var("merchant", "string", "Merchant name on the transaction",
                            required=True),
                       _var("country", "string", "Country of the transaction", default="NZ")]},
        {"id": "flow_post_call", "name": "Post-call follow-up", "status": "published",
         "updated": updated, "description": "Thanks the customer and asks for feedback.",
         "variables": [_var("follow_up", "boolean", "Offer a follow-up call", default=False),
                       _var("agent_name", "string", "Name of the agent who took the call")]},
        {"id": "flow_appointment", "name": "Appointment reminder", "status": "published",
         "updated": updated, "description": "Reminds the customer of a booked appointment.",
         "variables": [_var("appointment_date", "date", "Day of the appointment", required=True),
                       _var("location", "string", "Branch or address",
                            default="your local branch")]},
        {"id": "flow_branch_update", "name": "Branch network update", "status": "published",
         "updated": updated, "description": "Tells customers about changes at several branches.",
         "variables": [_var("branches", "list", "Branches affected", required=True),
                       _var("message", "string", "Text shown on the card")]},
        {"id": "flow_card_replacement", "name": "Card replacement", "status": "draft",
         "updated": updated, "description": "Work in progress: not published yet.",
         "variables": [_var("last4", "string", "Last four digits of the old card",
                            required=True)]},
    ]


# The card template each flow publishes.
FLOW_TEMPLATES: dict[str, str] = {
    "flow_caller_verification": "tpl_caller_verification",
    "flow_fraud_alert": "tpl_fraud_alert",
    "flow_post_call": "tpl_post_call",
    "flow_appointment": "tpl_appointment",
    "flow_branch_update": "tpl_branch_update",
    "flow_card_replacement": "tpl_card_replacement",
}
TEMPLATE_FLOWS: dict[str, str] = {tpl: flow for flow, tpl in FLOW_TEMPLATES.items()}

# cardOptions of the cards a flow start creates.
FLOW_CARD_OPTIONS: dict[str, dict[str, Any]] = {
    "flow_caller_verification": {"priority": 1, "expiresInterval": "PT1H",
                                 "targetStreamIds": [SECURITY_STREAM]},
    "flow_fraud_alert": {"priority": 2, "expiresInterval": "P1D",
                         "targetStreamIds": [SECURITY_STREAM]},
    "flow_post_call": {"priority": 5, "expiresInterval": "P14D",
                       "targetStreamIds": [SUPPORT_STREAM]},
    "flow_appointment": {"priority": 5},
    "flow_branch_update": {"priority": 6, "targetPlatforms": {"iOS": True, "Android": True}},
    "flow_card_replacement": {"priority": 5},
}

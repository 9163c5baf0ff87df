"""Texts of answers from the phone: what Tocsin replies to an SMS, or says in a call, when the
answer cannot be acted on. Each is also read aloud, so they stay plain sentences."""

TEXTS: dict[str, dict[str, str]] = {
    "phone.help": {
        "en": "Reply 1 to acknowledge your latest page, 2 to escalate it; add the page's code "
        "(1KQD) to answer an older one.",
        "zh": "回复 1 认领您最近收到的呼叫，回复 2 将其升级；回复较早的呼叫时请加上它的代码"
        "（如 1KQD）。",
    },
    "phone.stale": {
        "en": "Code {code} is not a current page of yours, so nothing was done. Reply 1 to "
        "acknowledge your latest page.",
        "zh": "代码 {code} 不是您当前的呼叫，未做任何操作。回复 1 可认领您最近收到的呼叫。",
    },
    "phone.no_page": {
        "en": "You have no current page to answer, so nothing was done.",
        "zh": "您当前没有可回复的呼叫，未做任何操作。",
    },
    "phone.again": {
        "en": "Your answer was already received; it is not acted on twice.",
        "zh": "您的回复已经收到，不会重复执行。",
    },
}

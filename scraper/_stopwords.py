"""The commonest function words of ten languages: prose is full of them, menus and lists are not."""

from __future__ import annotations

_LISTS = {
    "en": "the a an and or but of to in on at for with by from as is are was were be been it its this that "
    "these those he she they we you his her their our not have has had will would can could said than",
    "de": "der die das den dem des ein eine einer eines einem und oder aber nicht mit von zu im in auf für "
    "ist sind war waren wird werden hat haben sich es er sie wir auch als nach bei aus dass wie noch",
    "fr": "le la les un une des du de et ou mais ne pas que qui dans sur pour par avec est sont était été "
    "il elle ils nous vous au aux ce cette ces son sa ses leur plus a ont se qu",
    "es": "el la los las un una unos unas y o pero no que de del en con por para es son fue era ha han "
    "se su sus al lo como más este esta estos le les ya",
    "it": "il lo la i gli le un una e o ma non che di del della dei in con per su da è sono era ha hanno "
    "si suo sua al alla come più questo questa anche",
    "pt": "o a os as um uma e ou mas não que de do da dos das em no na com por para é são foi era tem "
    "se seu sua ao como mais este esta também",
    "nl": "de het een en of maar niet dat die van in op met voor door is zijn was waren wordt worden heeft "
    "hebben zich er hij zij we ook als naar bij uit",
    "ru": "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне "
    "было вот от меня еще нет о из ему было это для",
    "zh": "的 了 是 在 和 有 我 他 这 就 不 也 人 都 一 上 为 与 中 说 对 而 及 着 到",
    "ja": "の に は を た が で て と し れ さ ある いる も する から な こと として い や れる など",
}

STOPWORDS: frozenset[str] = frozenset(word for words in _LISTS.values() for word in words.split())
CJK_PARTICLES: frozenset[str] = frozenset(_LISTS["zh"].split()) | frozenset(_LISTS["ja"].split())

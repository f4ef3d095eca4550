#!/usr/bin/env python3
"""Write the synthetic sample corpora that ship with jmt, in ``corpora/sample/``.

Every sentence comes from a small English grammar and lexicon written for this
script, so the output is free of third-party licences: it is MIT, like jmt. No
real corpus was copied. The generator is deterministic: fixed seeds and pure
standard library. Running it again writes the same bytes.

    python scripts/make_sample_corpora.py             # writes corpora/sample/
    python scripts/make_sample_corpora.py -o OUTDIR   # writes somewhere else

Files written:

  train.conllu, dev.conllu         UD-style treebank (LEMMA, UPOS, XPOS, FEATS, HEAD,
                                   DEPREL), with a few multiword tokens, two empty
                                   nodes (gapping) and SpaceAfter=No
  chunk_train.txt, chunk_dev.txt   CoNLL-2000-style chunking, "word POS chunk" (IOB2)
  pairs_train.tsv, pairs_dev.tsv   SICK-style pairs (relatedness 1-5, 3-way entailment)
  pairs_dev.jsonl                  SNLI-style pairs, including 3 items without gold label

The lexicon has a few hundred word types. Some of them are held out of the
training files (HELD_OUT), so dev always contains unseen words. Many words are
ambiguous. Nouns such as cook, drink, help, plant, water and visit are also
verbs. That can be DET, PRON or SCONJ, and to can be ADP or PART. Like can be a
verb or a preposition. On, up and down can be particles or prepositions. Her can
be PRP or PRP$, and fast, hard and early can be ADJ or ADV.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "corpora" / "sample"

# One seed per file family, so that changing one family leaves the others alone.
SEED_TREEBANK_TRAIN, SEED_TREEBANK_DEV = 1101, 1102
SEED_CHUNK_TRAIN, SEED_CHUNK_DEV = 2201, 2202
SEED_PAIRS_TRAIN, SEED_PAIRS_DEV, SEED_SNLI_DEV = 3301, 3302, 3303

N_TREEBANK_TRAIN, N_TREEBANK_DEV = 400, 80
N_CHUNK_TRAIN, N_CHUNK_DEV = 400, 80
N_PAIRS_TRAIN, N_PAIRS_DEV, N_SNLI_DEV = 400, 80, 60

# =============================================================================
# Lexicon
# =============================================================================

# Nouns by semantic class. "sing/plur" gives an irregular plural and "word!" a
# mass noun (no plural, no "a"). A noun may belong to several classes. Within a
# class, earlier words are more frequent (see Grammar.pick).
NOUN_TABLE = {
    "person": """man/men woman/women child/children boy girl teacher student doctor
        friend farmer driver artist chef nurse player singer writer neighbor baby
        lawyer manager worker scientist soldier pilot king queen customer baker
        dancer painter visitor guest cook coach actor waiter officer tourist judge""",
    "animal": """dog cat horse bird fish/fish cow sheep/sheep mouse/mice rabbit lion
        tiger duck goat monkey snake puppy kitten fox wolf/wolves bear deer/deer
        elephant giraffe owl""",
    "food": """apple bread! cake sandwich pizza soup! banana orange carrot onion egg
        potato/potatoes tomato/tomatoes cheese! cookie rice! pie salad chicken!
        lemon pineapple pear""",
    "drink": "coffee! water! tea! drink milk! juice! wine! lemonade!",
    "thing": """ball watch key picture cup bottle knife/knives pen map ticket gift toy
        clock blanket umbrella kite glass basket wallet ring box bag phone camera
        lamp radio candle mirror""",
    "device": "phone computer lamp radio camera light television heater",
    "clothes": "hat shirt coat shoe jacket dress sweater scarf",
    "container": "box bag bottle door window drawer cup basket fridge",
    "furniture": "table chair bed desk bench sofa shelf/shelves",
    "text": "book letter newspaper story report note message poem magazine list",
    "instrument": "guitar piano violin drum flute trumpet saxophone",
    "vehicle": "car bike bus truck boat train taxi plane motorcycle kayak",
    "place": """park garden house school city river street kitchen room office shop
        beach forest hill lake field market station library hospital village
        bridge road mountain restaurant yard farm store museum lighthouse""",
    "slope": "hill mountain street road river",
    "plant": "tree plant flower rose bush",
    "event": """game walk party visit meeting dance play lesson run trip concert race
        match class show wedding""",
    "abstract": """idea work! answer help! call problem question plan dream job decision
        rule price result smile news! advice! change""",
    "sound": "song noise music! voice sound",
    "tale": "story joke secret",
}

# Noun-noun compounds (modifier, head, class of the whole).
COMPOUNDS = [
    ("coffee", "shop", "place"), ("bus", "station", "place"), ("shoe", "store", "place"),
    ("city", "park", "place"), ("school", "bus", "vehicle"), ("fire", "truck", "vehicle"),
    ("apple", "pie", "food"), ("chocolate", "cake", "food"), ("birthday", "cake", "food"),
    ("orange", "juice", "drink"), ("football", "game", "event"), ("birthday", "party", "event"),
    ("piano", "lesson", "event"), ("music", "teacher", "person"), ("police", "officer", "person"),
    ("bus", "driver", "person"), ("train", "ticket", "thing"), ("car", "key", "thing"),
    ("kitchen", "table", "furniture"), ("history", "book", "text"), ("tennis", "ball", "thing"),
    ("coffee", "cup", "container"), ("water", "bottle", "container"),
]

FIRST_NAMES = """John Mary Sarah David Anna Peter Lucy Tom Emma James Maria Paul Laura
    Michael Kate Daniel Nina Oliver Sophie Mark Alice Ben Julia Sam Chloe Leo Grace
    Max Ella Omar Priya Carlos Jack Lily Hiro Fatima Ivan Rosa""".split()
LAST_NAMES = "Smith Brown Jones Miller Davis Garcia Wilson Taylor Clark Walker Lopez Chen Kim Patel Novak".split()
CITIES = "London Paris Boston Chicago Berlin Rome Tokyo Madrid Dublin Toronto Sydney Cairo Lisbon Vienna Oslo".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()

# Adjectives that suit each noun class.
ADJ_TABLE = {
    "person": """young old tall short happy sad tired angry busy hungry brave kind lazy
        clever nervous calm friendly funny careful famous strong rich poor little
        curious gentle""",
    "animal": "big small old young little black white brown hungry tired angry lazy clever friendly strong fast slow gentle curious",
    "thing": """big small old new red blue green white black yellow brown heavy light
        expensive cheap clean dirty empty full wet dry long huge tiny beautiful strange
        wooden shiny""",
    "food": "hot cold fresh sweet big small delicious warm",
    "place": "big small old new beautiful quiet dark bright clean dirty cold warm empty busy famous huge tiny",
    "abstract": "good bad new strange simple difficult easy important big",
    "event": "long short good bad loud quiet important big",
}
# Adjectives of one scale: a noun gets at most one of each ("big old", not "big small").
ADJ_SCALES = [{"young", "old", "new"}, {"big", "small", "huge", "tiny", "little", "long", "short", "tall"},
              {"hot", "cold", "warm"}, {"clean", "dirty"}, {"empty", "full"}, {"wet", "dry"},
              {"happy", "sad", "angry", "calm", "nervous"}, {"rich", "poor"}, {"heavy", "light"},
              {"fast", "slow", "lazy"}, {"good", "bad"}, {"dark", "bright"}, {"quiet", "loud", "busy"},
              {"expensive", "cheap"}, {"easy", "difficult", "simple"}, {"kind", "friendly", "gentle", "funny"}]
NOUN_TO_ADJ_CLASS = {
    "person": "person", "animal": "animal", "food": "food", "drink": "food", "place": "place",
    "slope": "place", "event": "abstract", "abstract": "abstract", "sound": "event", "tale": "abstract",
}  # every other class takes "thing" adjectives

NOT_OCCUPATIONS = {"man", "woman", "child", "boy", "girl", "baby", "king", "queen", "friend", "neighbor",
                   "visitor", "guest", "customer", "tourist"}

# Comparative and superlative of the adjectives that have them; long ones use more/most.
IRREGULAR_DEGREE = {"good": ("better", "best"), "bad": ("worse", "worst")}
DOUBLE_CONSONANT_ADJ = {"big", "hot", "sad", "wet", "thin", "fat"}
PERIPHRASTIC_ADJ = {"expensive", "beautiful", "famous", "careful", "nervous", "important",
                    "difficult", "delicious", "curious", "strange", "friendly"}

# Adverbs.
MANNER_ADVS = "quickly slowly quietly loudly carefully happily badly well together again early late hard fast".split()
PRE_VERB_ADVS = "often always never usually sometimes also really just finally suddenly already still probably rarely".split()
SENTENCE_ADVS = "suddenly finally unfortunately luckily meanwhile later fortunately sadly however".split()
DEGREE_ADVS = "very really quite too so extremely rather pretty".split()
PLACE_ADVS = "home away back outside inside there here upstairs downstairs".split()

MODALS = ("will", "would", "can", "could", "should", "must", "might", "may")
SUBORDINATORS = "because when while if although before after since until".split()

# Verbs. Columns: lemma, past, past participle ("-" = regular), the noun classes
# of the object ("-" = intransitive only), flags:
#   o  the object may be left out          a  animals can be the subject
#   t  things can be the subject (then intransitive, see THING_SUBJECT)
#   m  motion verb (to/into/across ..., home/away)
#   s  stative (no progressive)
VERB_TABLE = """
eat      ate      eaten      food                            oa
drink    drank    drunk      drink                           oa
cook     -        -          food                            o
bake     -        -          food                            o
buy      bought   bought     food,thing,text,clothes,vehicle -
sell     sold     sold       food,thing,vehicle              o
make     made     made       food,drink,thing                -
cut      cut      cut        food,thing                      -
wash     -        -          thing,vehicle,animal,clothes    o
clean    -        -          place,thing,vehicle,furniture   o
paint    -        -          thing,furniture,place           o
read     read     read       text                            o
write    wrote    written    text                            o
send     sent     sent       text,thing                      -
open     -        -          container                       t
close    -        -          container                       t
carry    -        -          thing,food,container,animal     -
drop     -        -          thing,text,food                 -
find     found    found      thing,animal,person,text        a
lose     lost     lost       thing,text,event                -
watch    -        -          event,animal,person             oa
see      saw      seen       person,animal,thing,vehicle     as
hear     heard    heard      person,animal,sound             as
like     -        -          food,drink,person,animal,event,sound  s
love     -        -          food,drink,person,animal,event,sound  s
hate     -        -          food,drink,event,sound          s
need     -        -          thing,food,drink,abstract       s
want     -        -          thing,food,drink,clothes,vehicle  as
visit    -        -          person,place                    o
call     -        -          person                          o
help     -        -          person                          o
meet     met      met        person                          o
follow   -        -          person,animal                   a
chase    -        -          animal,person,thing             a
feed     fed      fed        animal,person                   -
play     -        -          instrument,event,sound          oa
sing     sang     sung       sound                           o
drive    drove    driven     vehicle                         o
ride     rode     ridden     vehicle                         -
fix      -        -          thing,vehicle,furniture,device  -
build    built    built      place,furniture                 -
break    broke    broken     thing,furniture,container       t
hold     held     held       thing,animal,container,text     -
bring    brought  brought    thing,food,drink,text           -
take     took     taken      thing,food,text                 -
catch    caught   caught     animal,thing                    a
throw    threw    thrown     thing                           -
kick     -        -          thing                           a
plant    -        -          plant                           -
pick     -        -          plant,food                      -
enter    -        -          place                           -
cross    -        -          slope                           -
climb    -        -          slope,plant                     oa
answer   -        -          abstract,text                   o
ask      -        -          person,abstract                 o
explain  -        -          abstract                        -
discuss  -        -          abstract,event                  -
finish   -        -          event,text,food                 o
start    -        -          event,vehicle                   t
forget   forgot   forgotten  abstract,thing,person           -
remember -        -          person,abstract,event           s
teach    taught   taught     person,sound                    o
study    -        -          abstract,sound                  o
check    -        -          thing,text,vehicle,device       -
fill     -        -          container                       -
push     -        -          thing,vehicle,furniture         -
pull     -        -          thing,vehicle,furniture         -
show     showed   shown      thing,text,place                -
borrow   -        -          thing,text,vehicle              -
wear     wore     worn       clothes                         -
have     had      had        thing,animal,vehicle,event      s
win      won      won        event                           o
hit      hit      hit        thing,animal                    -
touch    -        -          thing,animal,furniture          -
deliver  -        -          text,thing,food                 -
repair   -        -          thing,vehicle,furniture,device  -
admire   -        -          person,place,thing              s
book     -        -          event,thing                     -
water    -        -          plant                           -
fish     -        -          -                               -
sleep    slept    slept      -                               a
run      ran      run        -                               am
walk     -        -          -                               am
swim     swam     swum       -                               am
laugh    -        -          -                               -
cry      -        -          -                               a
smile    -        -          -                               -
dance    -        -          -                               -
arrive   -        -          -                               tm
leave    left     left       place                           otm
wait     -        -          -                               a
sit      sat      sat        -                               a
stand    stood    stood      -                               a
fall     fell     fallen     -                               tam
jump     -        -          -                               am
work     -        -          -                               -
talk     -        -          -                               -
listen   -        -          -                               -
rest     -        -          -                               a
shout    -        -          -                               -
travel   -        -          -                               m
move     -        -          -                               tm
stay     -        -          -                               a
come     came     come       -                               am
go       went     gone       -                               am
return   -        -          -                               m
fly      flew     flown      -                               am
hide     hid      hidden     -                               a
stop     -        -          -                               t
"""

# The subject class of a verb used with a thing as subject ("The bus arrived").
THING_SUBJECT = {"open": "container", "close": "container", "break": "thing", "start": "event",
                 "arrive": "vehicle", "leave": "vehicle", "fall": "thing", "move": "vehicle",
                 "stop": "vehicle"}

# Verbs of the other frames: the classes of the (direct) object.
DITRANSITIVE = {"give": "thing,food,text,drink", "send": "text,thing", "show": "thing,text",
                "bring": "thing,food,drink,text", "buy": "thing,food,clothes", "tell": "tale",
                "lend": "thing,text,vehicle", "offer": "food,drink,thing", "hand": "thing,text"}
CLAUSE_VERBS = "say think know believe hope notice feel hear realize explain remember forget guess".split()
STATIVE_CLAUSE_VERBS = {"think", "know", "believe", "hope", "feel", "remember", "guess"}
CONTROL_VERBS = "want try like love need decide hope plan forget learn promise begin start refuse".split()
STATIVE_CONTROL_VERBS = {"want", "like", "love", "need"}
# Phrasal verbs: (verb, particle, object classes or "-").
PHRASAL = [
    ("pick", "up", "thing,text,food"), ("put", "down", "thing,text,container"),
    ("turn", "on", "device"), ("turn", "off", "device"), ("write", "down", "text"),
    ("throw", "away", "thing,food,text"), ("clean", "up", "place"), ("give", "back", "thing,text"),
    ("fill", "up", "container"), ("take", "off", "clothes"), ("put", "on", "clothes"),
    ("try", "on", "clothes"), ("wake", "up", "-"), ("sit", "down", "-"), ("stand", "up", "-"),
    ("get", "up", "-"), ("come", "back", "-"), ("go", "out", "-"), ("run", "away", "-"),
    ("calm", "down", "-"), ("give", "up", "-"), ("show", "up", "-"),
]
ADVERB_PARTICLES = {"away", "back"}  # ADV RB advmod; the others are ADP RP compound:prt

# Irregular forms of verbs that only appear outside VERB_TABLE.
EXTRA_IRREGULAR = {"give": ("gave", "given"), "tell": ("told", "told"), "lend": ("lent", "lent"),
                   "say": ("said", "said"), "think": ("thought", "thought"), "know": ("knew", "known"),
                   "feel": ("felt", "felt"), "put": ("put", "put"), "get": ("got", "gotten"),
                   "wake": ("woke", "woken"), "begin": ("began", "begun"), "learn": ("learned", "learned"),
                   "cost": ("cost", "cost")}
DOUBLING = {"run", "swim", "sit", "stop", "plan", "shop", "drop", "hit", "cut", "get", "put",
            "begin", "win", "jog", "hug", "chat", "nod", "grab", "dig", "forget"}

# Prepositional phrases: (preposition, class of its noun).
LOCATION_PPS = [("in", "place"), ("at", "place"), ("near", "place"), ("in", "place"),
                ("behind", "place"), ("outside", "place"), ("in", "city"), ("by", "place"),
                ("on", "furniture"), ("under", "furniture"), ("under", "plant"), ("near", "plant"),
                ("inside", "place"), ("near", "city")]
DIRECTION_PPS = [("to", "place"), ("to", "city"), ("into", "place"), ("to", "place"),
                 ("through", "place"), ("across", "slope"), ("along", "slope"), ("around", "place"),
                 ("toward", "place"), ("from", "city"), ("up", "slope"), ("down", "slope")]
NOUN_MODIFIER_PPS = {
    "person": [("with", "clothes"), ("from", "city"), ("from", "place"), ("at", "place")],
    "animal": [("in", "place"), ("from", "place"), ("near", "place")],
    "text": [("about", "animal"), ("about", "person"), ("from", "person"), ("about", "city")],
    "food": [("from", "place"), ("on", "furniture"), ("for", "person")],
    "drink": [("in", "container"), ("from", "place")],
    "place": [("near", "place"), ("in", "city"), ("by", "place")],
    "event": [("with", "person"), ("in", "place"), ("at", "place")],
    "abstract": [("about", "event"), ("about", "person"), ("from", "person")],
    "vehicle": [("from", "city"), ("to", "city")],
    "sound": [("from", "place")],
    "plant": [("in", "place")],
    "container": [("in", "place"), ("on", "furniture")],
    "thing": [("on", "furniture"), ("in", "container"), ("for", "person"), ("from", "city")],
}

# Time expressions by the tense they suit; see Grammar.time_expression.
TIMES = {
    "past": ["yesterday", "last week", "last night", "last year", "last summer", "on Monday",
             "on Friday", "in the morning", "in 1998", "in 2012", "this morning", "after lunch",
             "during the meeting", "at night", "before dinner"],
    "hab": ["every day", "every morning", "every week", "in the morning", "in the evening",
            "at night", "on Sundays", "on weekends", "after school", "after work", "before breakfast"],
    "now": ["now", "right now", "today", "at the moment", "this morning"],
    "fut": ["tomorrow", "next week", "next year", "tonight", "on Friday", "after lunch", "soon",
            "later", "this evening"],
    "any": ["today", "this week", "in the afternoon"],
}
TIME_ADVS = {"now", "soon", "later", "right"}

NUMBER_WORDS = "two three four five six seven eight nine ten twelve twenty".split()
NUMBER_DIGITS = "3 4 5 6 10 12 15 20 25 40 100".split()

# Words kept out of every training file, so that dev has unseen words.
HELD_OUT = {
    "giraffe", "owl", "pineapple", "pear", "scarf", "candle", "saxophone", "kayak",
    "lighthouse", "museum", "wedding", "advice", "lemonade", "tourist", "judge", "heater",
    "sweater", "mirror", "curious", "gentle", "shiny", "deliver", "repair", "admire",
    "Hiro", "Fatima", "Ivan", "Rosa", "Oslo", "Vienna", "Novak",
}

# =============================================================================
# Morphology
# =============================================================================


def plural_of(noun):
    if noun.endswith(("s", "sh", "ch", "x", "z")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


class Noun:
    __slots__ = ("lemma", "plural", "cls")

    def __init__(self, lemma, plural, cls):
        self.lemma, self.plural, self.cls = lemma, plural, cls


class Verb:
    __slots__ = ("lemma", "objects", "flags")

    def __init__(self, lemma, objects, flags):
        self.lemma, self.objects, self.flags = lemma, objects, flags


def parse_nouns():
    table = {}
    for cls, words in NOUN_TABLE.items():
        entries = []
        for item in words.split():
            if item.endswith("!"):
                entries.append(Noun(item[:-1], None, cls))
            elif "/" in item:
                sing, plur = item.split("/")
                entries.append(Noun(sing, plur, cls))
            else:
                entries.append(Noun(item, plural_of(item), cls))
        table[cls] = entries
    return table


NOUNS = parse_nouns()
NOUN_BY_LEMMA = {}
for _entries in NOUNS.values():
    for _noun in _entries:
        NOUN_BY_LEMMA.setdefault(_noun.lemma, _noun)

IRREGULAR = dict(EXTRA_IRREGULAR)
VERBS = []
for _line in VERB_TABLE.strip().splitlines():
    _lemma, _past, _part, _objects, _flags = _line.split()
    if _past != "-":
        IRREGULAR[_lemma] = (_past, _part)
    VERBS.append(Verb(_lemma, [] if _objects == "-" else _objects.split(","), "" if _flags == "-" else _flags))
TRANSITIVE = [v for v in VERBS if v.objects]
INTRANSITIVE = [v for v in VERBS if not v.objects or "o" in v.flags or "t" in v.flags]
VERBS_BY_OBJECT = {}
for _verb in TRANSITIVE:
    for _cls in _verb.objects:
        VERBS_BY_OBJECT.setdefault(_cls, []).append(_verb)


def regular_past(lemma):
    if lemma in DOUBLING:
        return lemma + lemma[-1] + "ed"
    if lemma.endswith("e"):
        return lemma + "d"
    if lemma.endswith("y") and lemma[-2] not in "aeiou":
        return lemma[:-1] + "ied"
    return lemma + "ed"


def verb_form(lemma, xpos, person=3, number="Sing"):
    """The form of ``lemma`` for a PTB verb tag (VB VBP VBZ VBD VBN VBG)."""
    if lemma == "be":
        if xpos == "VBZ":
            return "is"
        if xpos == "VBP":
            return "am" if (person, number) == (1, "Sing") else "are"
        if xpos == "VBD":
            return "was" if number == "Sing" and person != 2 else "were"
        return {"VB": "be", "VBN": "been", "VBG": "being"}[xpos]
    special = {"have": {"VBZ": "has", "VBD": "had", "VBN": "had"},
               "do": {"VBZ": "does", "VBD": "did", "VBN": "done"},
               "go": {"VBZ": "goes"}}
    if xpos in special.get(lemma, {}):
        return special[lemma][xpos]
    if xpos in ("VB", "VBP"):
        return lemma
    if xpos == "VBZ":
        if lemma.endswith(("s", "sh", "ch", "x", "z", "o")):
            return lemma + "es"
        if lemma.endswith("y") and lemma[-2] not in "aeiou":
            return lemma[:-1] + "ies"
        return lemma + "s"
    if xpos == "VBG":
        if lemma in DOUBLING:
            return lemma + lemma[-1] + "ing"
        if lemma.endswith("ie"):
            return lemma[:-2] + "ying"
        if lemma.endswith("e") and not lemma.endswith("ee") and lemma != "be":
            return lemma[:-1] + "ing"
        return lemma + "ing"
    past, participle = IRREGULAR.get(lemma, (None, None))
    if xpos == "VBD":
        return past or regular_past(lemma)
    if xpos == "VBN":
        return participle or regular_past(lemma)
    raise ValueError(xpos)


def verb_feats(lemma, xpos, person, number, mood="ind", passive=False):
    """UD features of a verb form, as in UD English EWT."""
    if xpos == "MD":
        return "VerbForm=Fin"
    if mood == "imp":
        return "Mood=Imp|VerbForm=Fin"
    if xpos == "VB":
        return "VerbForm=Inf"
    if xpos == "VBG":
        return "Tense=Pres|VerbForm=Part"
    if xpos == "VBN":
        return "Tense=Past|VerbForm=Part" + ("|Voice=Pass" if passive else "")
    tense = "Past" if xpos == "VBD" else "Pres"
    return f"Mood=Ind|Number={number}|Person={person}|Tense={tense}|VerbForm=Fin"


def degree_forms(adj):
    """(comparative, superlative) words of an adjective; two words for more/most."""
    if adj in IRREGULAR_DEGREE:
        return IRREGULAR_DEGREE[adj]
    if adj in PERIPHRASTIC_ADJ:
        return None
    if adj in DOUBLE_CONSONANT_ADJ:
        return adj + adj[-1] + "er", adj + adj[-1] + "est"
    if adj.endswith("e"):
        return adj + "r", adj + "st"
    if adj.endswith("y") and adj[-2] not in "aeiou":
        return adj[:-1] + "ier", adj[:-1] + "iest"
    return adj + "er", adj + "est"


def a_or_an(next_word):
    word = next_word.lower()
    if word.startswith(("uni", "use", "one", "eu")):
        return "a"
    return "an" if word[0] in "aeiou" else "a"


def capitalize(word):
    return word[:1].upper() + word[1:]


# Pronouns: nominative -> (accusative, possessive, person, number, gender).
PRONOUNS = {
    "I": ("me", "my", 1, "Sing", None),
    "you": ("you", "your", 2, "Sing", None),
    "he": ("him", "his", 3, "Sing", "Masc"),
    "she": ("her", "her", 3, "Sing", "Fem"),
    "it": ("it", "its", 3, "Sing", "Neut"),
    "we": ("us", "our", 1, "Plur", None),
    "they": ("them", "their", 3, "Plur", None),
}


def pronoun_feats(nominative, case):
    _, _, person, number, gender = PRONOUNS[nominative]
    parts = [f"Case={case}"]
    if gender:
        parts.append(f"Gender={gender}")
    if nominative != "you":
        parts.append(f"Number={number}")
    parts.append(f"Person={person}")
    if case == "Gen":
        parts.append("Poss=Yes")
    parts.append("PronType=Prs")
    return "|".join(parts)


DETERMINER_FEATS = {
    "the": "Definite=Def|PronType=Art", "a": "Definite=Ind|PronType=Art",
    "this": "Number=Sing|PronType=Dem", "that": "Number=Sing|PronType=Dem",
    "these": "Number=Plur|PronType=Dem", "those": "Number=Plur|PronType=Dem",
    "every": "PronType=Tot", "each": "PronType=Tot", "all": "PronType=Tot",
    "some": "PronType=Ind", "another": "PronType=Ind", "no": "PronType=Neg",
}

# Contractions of an auxiliary with n't: the MWT surface and the first word.
CONTRACTIONS = {"do": "don't", "does": "doesn't", "did": "didn't", "is": "isn't", "are": "aren't",
                "was": "wasn't", "were": "weren't", "has": "hasn't", "have": "haven't",
                "had": "hadn't", "can": "can't", "will": "won't", "could": "couldn't",
                "should": "shouldn't", "would": "wouldn't", "must": "mustn't"}
CONTRACTED_FIRST_WORD = {"can": "ca", "will": "wo"}

# =============================================================================
# Trees
# =============================================================================


class Tok:
    """One syntactic word. ``head`` is another Tok (None for the root).

    Ids are given when the sentence is written. ``mwt`` on the first word of a
    contraction is (surface, number of words), e.g. ("doesn't", 2). ``deps``
    overrides the enhanced-dependency column in sentences that have one.
    """

    __slots__ = ("form", "lemma", "upos", "xpos", "feats", "head", "deprel", "chunk", "mwt", "deps")

    def __init__(self, form, lemma, upos, xpos, feats="_"):
        self.form, self.lemma, self.upos, self.xpos = form, lemma, upos, xpos
        self.feats = feats or "_"
        self.head = self.deprel = self.mwt = self.deps = None
        self.chunk = "O"

    def attach(self, head, deprel):
        self.head, self.deprel = head, deprel
        return self


class Phrase:
    """A run of words with one head word, plus what the verb agrees with."""

    def __init__(self, toks, head, number="Sing", person=3, cls=None, pronoun=False):
        self.toks, self.head = toks, head
        self.number, self.person, self.cls, self.pronoun = number, person, cls, pronoun

    def attach(self, head, deprel):
        self.head.attach(head, deprel)
        return self


class Sentence:
    def __init__(self, toks, empty_nodes=None):
        self.toks = toks
        self.empty_nodes = empty_nodes or {}  # word id -> CoNLL-U lines that follow it


def chunk(toks, label):
    """Mark ``toks`` as one chunk: B-label, I-label, ..."""
    for i, tok in enumerate(toks):
        tok.chunk = ("B-" if i == 0 else "I-") + label
    return toks


def punct(mark):
    return Tok(mark, mark, "PUNCT", "," if mark == "," else ".")


def adverb(word):
    tok = Tok(word, word, "ADV", "RB", "PronType=Neg" if word == "never" else "_")
    tok.chunk = "B-ADVP"
    return tok


def preposition(word):
    tok = Tok(word, word, "ADP", "TO" if word == "to" else "IN")
    tok.chunk = "B-PP"
    return tok


def chunk_verb_group(toks):
    """Adverbs before the first verb are ADVP; the rest of the verb group is one VP."""
    k = 0
    while k < len(toks) and toks[k].upos == "ADV":
        toks[k].chunk = "B-ADVP" if k == 0 or toks[k - 1].upos != "ADV" else "I-ADVP"
        k += 1
    chunk(toks[k:], "VP")
    return toks


# =============================================================================
# Grammar
# =============================================================================


def _key(item):
    if isinstance(item, str):
        return item
    if isinstance(item, tuple):
        return item[0]
    return item.lemma


class Grammar:
    """Builds random sentences as dependency trees with POS tags and chunks.

    ``dev`` decides whether HELD_OUT words may be used (and they are then
    favoured, so that dev has unseen words).
    """

    def __init__(self, seed, dev):
        self.rng = random.Random(seed)
        self.dev = dev
        self.time_used = False

    # ----- random choices ---------------------------------------------------

    def chance(self, p):
        return self.rng.random() < p

    def pick(self, items):
        """Zipf-like choice: earlier items are more frequent."""
        items = [item for item in items if self.dev or _key(item) not in HELD_OUT]
        weights = [1.0 / (i + 2) ** 0.8 for i in range(len(items))]
        if self.dev:
            weights = [0.5 if _key(item) in HELD_OUT else w for item, w in zip(items, weights)]
        return self.rng.choices(items, weights)[0]

    def weighted(self, table):
        """Choose from [(weight, value), ...]."""
        return self.rng.choices([v for _, v in table], [w for w, _ in table])[0]

    # ----- noun phrases -----------------------------------------------------

    def pronoun(self, role, nominative=None):
        nominative = nominative or self.weighted([(3, "he"), (3, "she"), (2, "they"), (2, "I"), (1, "we"), (1, "you")])
        accusative, _, person, number, _ = PRONOUNS[nominative]
        if role == "subj":
            tok = Tok(nominative, nominative, "PRON", "PRP", pronoun_feats(nominative, "Nom"))
        else:
            tok = Tok(accusative, nominative, "PRON", "PRP", pronoun_feats(nominative, "Acc"))
        chunk([tok], "NP")
        return Phrase([tok], tok, number, person, "person", pronoun=True)

    def person_name(self):
        first = self.pick(FIRST_NAMES)
        toks = [Tok(first, first, "PROPN", "NNP", "Number=Sing")]
        if self.chance(0.2):
            last = self.pick(LAST_NAMES)
            toks.append(Tok(last, last, "PROPN", "NNP", "Number=Sing").attach(toks[0], "flat"))
        chunk(toks, "NP")
        return Phrase(toks, toks[0], "Sing", 3, "person")

    def city(self):
        if self.chance(0.12):
            new = Tok("New", "New", "PROPN", "NNP", "Number=Sing")
            york = Tok("York", "York", "PROPN", "NNP", "Number=Sing")
            new.attach(york, "compound")
            toks, head = [new, york], york
        else:
            name = self.pick(CITIES)
            head = Tok(name, name, "PROPN", "NNP", "Number=Sing")
            toks = [head]
        chunk(toks, "NP")
        return Phrase(toks, head, "Sing", 3, "city")

    def possessor(self):
        """The NP before 's: a name or "the" + a singular noun."""
        if self.chance(0.6):
            return self.person_name()
        noun = self.pick(NOUNS[self.weighted([(3, "person"), (1, "animal")])])
        head = Tok(noun.lemma, noun.lemma, "NOUN", "NN", "Number=Sing")
        the = Tok("the", "the", "DET", "DT", DETERMINER_FEATS["the"]).attach(head, "det")
        chunk([the, head], "NP")
        return Phrase([the, head], head)

    def noun_phrase(self, cls, role="subj", *, number=None, pron=0.1, name=0.12, mods=1.0,
                    nmod=0.06, rel=0.0, coord=0.0, indefinite=False):
        """A noun phrase of class ``cls`` (a key of NOUN_TABLE, or "city").

        ``role`` (subj, obj, pobj) gives a pronoun its case. ``pron``, ``name``,
        ``nmod``, ``rel`` and ``coord`` are the chances of a pronoun, a proper
        name, a prepositional modifier, a relative clause and coordination;
        ``mods`` scales the chance of adjectives; ``indefinite`` keeps to the
        determiners of "There is ...".
        """
        if coord and self.chance(coord):
            return self.coordination(cls, role)
        if cls == "city":
            return self.city()
        if cls == "person" and not indefinite:
            if self.chance(pron):
                return self.pronoun(role)
            if self.chance(name):
                return self.person_name()
        elif cls in ("animal", "thing", "food") and not indefinite and self.chance(pron * 0.3):
            return self.pronoun(role, self.weighted([(3, "it"), (1, "they")]))

        compound = None
        options = [c for c in COMPOUNDS if c[2] == cls]
        if options and self.chance(0.06 * mods):
            compound = self.pick(options)
            noun = NOUN_BY_LEMMA.get(compound[1]) or Noun(compound[1], plural_of(compound[1]), cls)
        else:
            noun = self.pick(NOUNS[cls])
        mass = noun.plural is None
        if mass:
            number = "Sing"
        elif number is None:
            number = "Plur" if self.chance(0.3) else "Sing"
        plural = number == "Plur" and not mass
        head = Tok(noun.plural if plural else noun.lemma, noun.lemma, "NOUN", "NNS" if plural else "NN", f"Number={number}")

        # determiner
        if indefinite:
            table = ([(5, "bare"), (3, "some"), (2, "no")] if mass else
                     [(4, "bare"), (3, "num"), (2, "some"), (2, "quant"), (1, "no")] if plural else
                     [(9, "a"), (1, "no")])
        elif mass:
            table = [(35, "the"), (35, "bare"), (12, "some"), (8, "poss"), (5, "dem"), (2, "no"), (3, "gen")]
        elif plural:
            table = [(30, "the"), (20, "bare"), (8, "some"), (12, "num"), (8, "poss"), (6, "dem"),
                     (6, "quant"), (2, "all"), (1, "no"), (4, "gen")]
        else:
            table = [(40, "the"), (30, "a"), (8, "poss"), (6, "dem"), (3, "every"), (1, "another"),
                     (1, "no"), (4, "gen"), (1, "one")]
        kind = self.weighted(table)
        if role == "pobj" and kind in ("gen", "every"):
            kind = "the"
        toks, possessor = [], None
        if kind == "gen":
            possessor = self.possessor()
            possessor.attach(head, "nmod:poss")
            toks += possessor.toks
            toks.append(Tok("'s", "'s", "PART", "POS").attach(possessor.head, "case"))
        elif kind == "all":
            toks.append(Tok("all", "all", "DET", "PDT", "PronType=Tot").attach(head, "det:predet"))
            toks.append(Tok("the", "the", "DET", "DT", DETERMINER_FEATS["the"]).attach(head, "det"))
        elif kind == "poss":
            nominative = self.weighted([(3, "his"), (3, "her"), (2, "my"), (2, "their"), (1, "our"), (1, "your"),
                                        (0 if cls == "person" else 2, "its")])
            nominative = {"his": "he", "her": "she", "my": "I", "their": "they", "our": "we", "your": "you", "its": "it"}[nominative]
            form = PRONOUNS[nominative][1]
            toks.append(Tok(form, form, "PRON", "PRP$", pronoun_feats(nominative, "Gen")).attach(head, "nmod:poss"))
        elif kind == "num":
            if self.chance(0.3):
                word = self.pick(NUMBER_DIGITS)
                toks.append(Tok(word, word, "NUM", "CD", "NumForm=Digit|NumType=Card").attach(head, "nummod"))
            else:
                word = self.pick(NUMBER_WORDS)
                toks.append(Tok(word, word, "NUM", "CD", "NumForm=Word|NumType=Card").attach(head, "nummod"))
        elif kind == "one":
            toks.append(Tok("one", "one", "NUM", "CD", "NumForm=Word|NumType=Card").attach(head, "nummod"))
        elif kind == "quant":
            word = self.pick(["many", "several", "few"])
            toks.append(Tok(word, word, "ADJ", "JJ", "Degree=Pos").attach(head, "amod"))
        elif kind != "bare":
            word = kind
            if kind == "dem":
                word = self.pick(["this", "that"] if number == "Sing" else ["these", "those"])
            toks.append(Tok(word, word, "DET", "DT", DETERMINER_FEATS[word]).attach(head, "det"))
        determiner_end = len(toks)

        # adjectives, maybe a degree adverb or a superlative
        n_adj = self.weighted([(65, 0), (28, 1), (7, 2)]) if self.chance(mods) else 0
        adj_words = ADJ_TABLE[NOUN_TO_ADJ_CLASS.get(cls, "thing")].split()
        chosen = []
        for _ in range(n_adj):
            adj = self.pick(adj_words)
            if not any(adj == c or any({adj, c} <= scale for scale in ADJ_SCALES) for c in chosen):
                chosen.append(adj)
        for k, adj in enumerate(chosen):
            forms = degree_forms(adj)
            if k == 0 and kind == "the" and forms and self.chance(0.1):
                toks.append(Tok(forms[1], adj, "ADJ", "JJS", "Degree=Sup").attach(head, "amod"))
                continue
            adj_tok = Tok(adj, adj, "ADJ", "JJ", "Degree=Pos").attach(head, "amod")
            if k == 0 and self.chance(0.12):
                toks.append(adverb(self.pick(["very", "really", "quite", "extremely"])).attach(adj_tok, "advmod"))
            toks.append(adj_tok)
        if compound:
            toks.append(Tok(compound[0], compound[0], "NOUN", "NN", "Number=Sing").attach(head, "compound"))
        toks.append(head)

        if toks[0].lemma == "a":  # "a" or "an" by the next word
            toks[0].form = a_or_an(toks[1].form)
        if possessor:
            chunk(toks[determiner_end - 1:], "NP")  # "'s old car" is one NP chunk
        else:
            chunk(toks, "NP")
        phrase = Phrase(toks, head, number, 3, cls)

        # prepositional modifier and relative clause
        modifiers = NOUN_MODIFIER_PPS.get(cls)
        if modifiers and self.chance(nmod):
            prep, pcls = self.rng.choice(modifiers)
            toks += self.pp(prep, pcls, head, "nmod", mods=0.5)
        if rel and self.chance(rel):
            toks += self.relative_clause(phrase)
        return phrase

    def coordination(self, cls, role):
        """Two or three coordinated noun phrases: "the dog, the cat and the horse"."""
        n = 3 if self.chance(0.25) else 2
        parts = [self.noun_phrase(cls, role, pron=0.0, name=0.3, mods=0.5, nmod=0.0) for _ in range(n)]
        conjunction = "or" if self.chance(0.15) else "and"
        toks, first = list(parts[0].toks), parts[0].head
        for k, part in enumerate(parts[1:], start=2):
            if k < n or (n == 3 and self.chance(0.3)):  # commas, and sometimes an Oxford comma
                toks.append(punct(",").attach(part.head, "punct"))
            if k == n:
                toks.append(Tok(conjunction, conjunction, "CCONJ", "CC").attach(part.head, "cc"))
            part.attach(first, "conj")
            toks += part.toks
        number = parts[-1].number if conjunction == "or" else "Plur"
        return Phrase(toks, first, number, 3, cls)

    def pp(self, prep, cls, governor, deprel="obl", **np_options):
        """Preposition + noun phrase, attached to ``governor``; returns the words."""
        np_options.setdefault("pron", 0.05)
        np_options.setdefault("nmod", 0.0)
        phrase = self.noun_phrase(cls, "pobj", **np_options)
        phrase.attach(governor, deprel)
        return [preposition(prep).attach(phrase.head, "case")] + phrase.toks

    def relative_clause(self, np):
        """A relative clause on ``np``: "who lives near the river", "that Mary bought"."""
        subject_verbs = self.verbs_for_subject(np.cls)
        object_verbs = [v for v in VERBS_BY_OBJECT.get(np.cls, []) if self.dev or v.lemma not in HELD_OUT]
        if not subject_verbs and not object_verbs:
            return []
        human = np.cls == "person"
        options = self.tam(self.rng.choice(["past", "pres"]), simple=True, neg=0.0, adv=0.0)[0]
        if subject_verbs and (not object_verbs or self.chance(0.55)):
            word = "who" if human and self.chance(0.7) else ("that" if human or self.chance(0.4) else "which")
            rel = Tok(word, word, "PRON", "WP" if word == "who" else "WDT", "PronType=Rel")
            verb = self.pick(subject_verbs)
            group, v = self.verb_group(verb.lemma, np, **options)
            rel.attach(v, "nsubj")
            toks = [rel] + group
            if verb.objects and np.cls in ("person", "animal") and not ("o" in verb.flags and self.chance(0.3)):
                toks += self.object_for(verb, v, light=True)
            else:
                toks += self.adjuncts(verb, "any", v, p=0.8)
        else:
            verb = self.pick(object_verbs)
            subject = self.noun_phrase(self.subject_class(verb, transitive=True), "subj", pron=0.4, name=0.2, mods=0.3, nmod=0.0)
            group, v = self.verb_group(verb.lemma, subject, **options)
            subject.attach(v, "nsubj")
            toks = []
            word = self.weighted([(4, "that"), (2, "who" if human else "which"), (3, None)])
            if word:
                rel = Tok(word, word, "PRON", "WP" if word == "who" else "WDT", "PronType=Rel")
                toks.append(rel.attach(v, "obj"))
            toks += subject.toks + group
        if toks[0].lemma in ("who", "that", "which"):
            chunk(toks[:1], "NP")
        v.attach(np.head, "acl:relcl")
        return toks

    # ----- verbs --------------------------------------------------------------

    def verbs_for_subject(self, cls):
        if cls == "person":
            verbs = VERBS
        elif cls == "animal":
            verbs = [v for v in VERBS if "a" in v.flags]
        else:
            verbs = [v for v in VERBS if THING_SUBJECT.get(v.lemma) == cls]
        return [v for v in verbs if self.dev or v.lemma not in HELD_OUT]

    def subject_class(self, verb, transitive):
        options = [(7, "person")]
        if "a" in verb.flags:
            options.append((3, "animal"))
        if "t" in verb.flags and not transitive:
            options.append((4, THING_SUBJECT[verb.lemma]))
        return self.weighted(options)

    def tam(self, tense=None, *, stative=False, neg=0.1, simple=False, adv=0.08):
        """Tense, aspect and mood of a verb group.

        Returns (options for verb_group, time key): the key selects the time
        expressions of TIMES that fit the tense.
        """
        if tense is None:
            tense = self.weighted([(45, "past"), (40, "pres"), (15, "fut")])
        options = {}
        if tense == "fut":
            options["modal"] = "will"
            key = "fut"
        elif tense == "past":
            options["tense"] = "past"
            key = "past"
            aspect = "simple" if simple else self.weighted([(72, "simple"), (14, "prog"), (6, "perf"), (8, "modal")])
            if aspect == "prog" and not stative:
                options["prog"] = True
            elif aspect == "perf":
                options["perf"] = True
            elif aspect == "modal":
                options["modal"] = self.pick(["could", "would", "might"])
                key = "any"
        else:
            aspect = "simple" if simple else self.weighted([(55, "simple"), (20, "prog"), (12, "perf"), (13, "modal")])
            key = "hab"
            if aspect == "prog" and not stative:
                options["prog"], key = True, "now"
            elif aspect == "perf":
                options["perf"], key = True, "any"
            elif aspect == "modal":
                options["modal"], key = self.pick(["can", "should", "must", "might", "may"]), "any"
        if self.chance(neg):
            options["neg"] = True
            options["contract"] = self.chance(0.55)
        elif self.chance(adv):
            options["adv"] = self.pick(PRE_VERB_ADVS)
        return options, key

    def verb_group(self, lemma, subject, *, tense="pres", modal=None, perf=False, prog=False,
                   passive=False, neg=False, contract=False, adv=None, do_support=False,
                   mood="ind", cop=False):
        """Auxiliaries, negation, a pre-verbal adverb and the main verb.

        Returns (words, main verb). Auxiliaries, "not" and the adverb are already
        attached to the main verb; the caller attaches the main verb. For a
        copula (``cop``) the caller moves them all to the predicate.
        """
        person, number = (subject.person, subject.number) if subject is not None else (2, "Sing")
        items = [(modal, "aux")] if modal else []
        if perf:
            items.append(("have", "aux"))
        if prog:
            items.append(("be", "aux"))
        if passive:
            items.append(("be", "aux:pass"))
        items.append((lemma, "main"))
        if len(items) == 1 and lemma != "be" and (neg or do_support):
            items.insert(0, ("do", "aux"))

        toks, need = [], None
        for k, (word, role) in enumerate(items):
            if k > 0:
                xpos = need
            elif mood in ("imp", "inf"):
                xpos = "VB"
            elif word in MODALS:
                xpos = "MD"
            elif tense == "past":
                xpos = "VBD"
            else:
                xpos = "VBZ" if person == 3 and number == "Sing" else "VBP"
            form = word if xpos == "MD" else verb_form(word, xpos, person, number)
            upos = ("AUX" if cop else "VERB") if role == "main" else "AUX"
            feats = verb_feats(word, xpos, person, number, mood if k == 0 or role == "main" else "ind",
                               passive=passive and role == "main")
            tok = Tok(form, word, upos, xpos, feats)
            tok.deprel = role
            toks.append(tok)
            if word in MODALS or word == "do":
                need = "VB"
            elif (word == "have" and role == "aux") or role == "aux:pass":
                need = "VBN"
            else:
                need = "VBG"
        main = toks[-1]
        main.deprel = None
        for tok in toks[:-1]:
            tok.head = main

        inserted = []
        if neg:
            first = toks[0]
            if contract and first.form.lower() in CONTRACTIONS:
                if first.lemma == "can" and self.chance(0.4):
                    first.mwt = ("cannot", 2)
                    inserted.append(Tok("not", "not", "PART", "RB", "Polarity=Neg"))
                else:
                    first.mwt = (CONTRACTIONS[first.form.lower()], 2)
                    first.form = CONTRACTED_FIRST_WORD.get(first.lemma, first.form)
                    inserted.append(Tok("n't", "not", "PART", "RB", "Polarity=Neg"))
            else:
                inserted.append(Tok("not", "not", "PART", "RB", "Polarity=Neg"))
        if adv:
            inserted.append(adverb(adv))
        for tok in inserted:
            tok.attach(main, "advmod")
        if len(toks) > 1 or lemma == "be" or neg:
            words = toks[:1] + inserted + toks[1:]
        else:
            words = inserted + toks
        chunk_verb_group(words)
        return words, main

    def object_for(self, verb, governor, light=False, rel=0.0):
        cls = self.rng.choice(verb.objects)
        obj = self.noun_phrase(cls, "obj", pron=0.1, name=0.15, nmod=0.0 if light else 0.07,
                               mods=0.5 if light else 1.0, rel=rel, coord=0.0 if light else 0.04)
        obj.attach(governor, "obj")
        return obj.toks

    def time_expression(self, key, governor):
        """A time adjunct that fits the tense: "yesterday", "last week", "on Monday"."""
        self.time_used = True
        words = self.pick(TIMES[key]).split()
        if words[0] in TIME_ADVS:
            toks = [adverb(w) for w in words]
            for tok in toks[:-1]:
                tok.attach(toks[-1], "advmod")
            toks[-1].attach(governor, "advmod")
            return chunk(toks, "ADVP")
        head_word = words[-1]
        if head_word in DAYS or head_word.rstrip("s") in DAYS:
            plural = head_word not in DAYS
            head = Tok(head_word, head_word.rstrip("s"), "PROPN", "NNPS" if plural else "NNP",
                       "Number=Plur" if plural else "Number=Sing")
        elif head_word.isdigit():
            head = Tok(head_word, head_word, "NUM", "CD", "NumForm=Digit|NumType=Card")
        elif head_word.endswith("s") and head_word != "news":
            head = Tok(head_word, head_word[:-1], "NOUN", "NNS", "Number=Plur")
        else:
            head = Tok(head_word, head_word, "NOUN", "NN", "Number=Sing")
        toks = []
        first = words[0]
        if len(words) > 1 and first not in ("last", "next", "every", "this"):
            toks.append(preposition(first).attach(head, "case"))
            words = words[1:]
            head.attach(governor, "obl")
        else:
            head.attach(governor, "obl:unmarked")
        np_toks = []
        for word in words[:-1]:
            if word in ("last", "next"):
                np_toks.append(Tok(word, word, "ADJ", "JJ", "Degree=Pos").attach(head, "amod"))
            else:
                np_toks.append(Tok(word, word, "DET", "DT", DETERMINER_FEATS[word]).attach(head, "det"))
        np_toks.append(head)
        return toks + chunk(np_toks, "NP")

    def adjuncts(self, verb, key, governor, p=1.0):
        """Manner adverb, place or direction, company and time, each by chance."""
        toks = []
        motion = verb is not None and "m" in verb.flags
        if self.chance(0.12 * p):
            toks.append(adverb(self.pick(MANNER_ADVS)).attach(governor, "advmod"))
        if motion and self.chance(0.6 * p):
            if self.chance(0.3):
                toks.append(adverb(self.pick(PLACE_ADVS)).attach(governor, "advmod"))
            else:
                prep, cls = self.rng.choice(DIRECTION_PPS)
                toks += self.pp(prep, cls, governor, mods=0.6)
        elif self.chance(0.22 * p):
            prep, cls = self.rng.choice(LOCATION_PPS)
            toks += self.pp(prep, cls, governor, mods=0.6)
        elif verb is not None and not verb.objects and self.chance(0.04 * p):
            toks += self.pp("like", "animal", governor, pron=0.0)  # "sings like a bird"
        if self.chance(0.05 * p):
            toks += self.pp(self.pick(["with", "for", "without"]), "person", governor, mods=0.4)
        if not self.time_used and self.chance(0.13 * p):
            toks += self.time_expression(key, governor)
        return toks

    # ----- clauses: each returns (words, head) ------------------------------

    def clause_transitive(self, tense=None, light=False):
        verb = self.pick(TRANSITIVE)
        subject = self.noun_phrase(self.subject_class(verb, True), "subj", rel=0.0 if light else 0.06,
                                   coord=0.0 if light else 0.05, nmod=0.03 if light else 0.06)
        options, key = self.tam(tense, stative="s" in verb.flags, neg=0.06 if light else 0.1)
        group, v = self.verb_group(verb.lemma, subject, **options)
        subject.attach(v, "nsubj")
        toks = subject.toks + group + self.object_for(verb, v, light=light, rel=0.0 if light else 0.07)
        return toks + self.adjuncts(verb, key, v, p=0.5 if light else 1.0), v

    def clause_intransitive(self, tense=None, light=False):
        verb = self.pick(INTRANSITIVE)
        subject = self.noun_phrase(self.subject_class(verb, False), "subj", rel=0.0 if light else 0.06,
                                   coord=0.0 if light else 0.06, nmod=0.03 if light else 0.06)
        options, key = self.tam(tense, stative="s" in verb.flags, neg=0.06 if light else 0.1)
        group, v = self.verb_group(verb.lemma, subject, **options)
        subject.attach(v, "nsubj")
        return subject.toks + group + self.adjuncts(verb, key, v, p=0.7 if light else 1.4), v

    def clause_copula(self, tense=None, light=False, question=False):
        kind = self.weighted([(50, "adj"), (18, "noun"), (24, "loc"), (8, "cmp")])
        if kind == "noun":
            cls = "person"
        elif kind == "loc":
            cls = self.weighted([(4, "person"), (2, "animal"), (2, "thing"), (1, "vehicle")])
        else:
            cls = self.weighted([(5, "person"), (2, "animal"), (2, "thing"), (2, "place"), (1, "food"), (1, "abstract")])
        subject = self.noun_phrase(cls, "subj", rel=0.0 if light else 0.05, nmod=0.03 if light else 0.06)
        options, key = self.tam(tense, stative=True, neg=0.06 if light else 0.12)
        group, be = self.verb_group("be", subject, cop=True, **options)
        adj_class = NOUN_TO_ADJ_CLASS.get(cls, "thing")

        if kind == "adj":
            adj = self.pick(ADJ_TABLE[adj_class].split())
            head = Tok(adj, adj, "ADJ", "JJ", "Degree=Pos")
            pred = [head]
            if self.chance(0.25):
                pred.insert(0, adverb(self.pick(DEGREE_ADVS)).attach(head, "advmod"))
            chunk(pred, "ADJP")
            if self.chance(0.15):
                other = self.pick([a for a in ADJ_TABLE[adj_class].split() if a != adj])
                second = Tok(other, other, "ADJ", "JJ", "Degree=Pos").attach(head, "conj")
                cc = Tok("and", "and", "CCONJ", "CC").attach(second, "cc")
                pred += [cc] + chunk([second], "ADJP")
        elif kind == "cmp":
            adj = self.pick([a for a in ADJ_TABLE[adj_class].split()])
            forms = degree_forms(adj)
            if forms:
                head = Tok(forms[0], adj, "ADJ", "JJR", "Degree=Cmp")
                pred = chunk([head], "ADJP")
            else:
                head = Tok(adj, adj, "ADJ", "JJ", "Degree=Pos")
                more = Tok("more", "more", "ADV", "RBR", "Degree=Cmp").attach(head, "advmod")
                pred = chunk([more, head], "ADJP")
            pred += self.pp("than", cls if cls != "place" else "place", head, pron=0.2, nmod=0.0)
        elif kind == "noun":
            noun = self.pick([n for n in NOUNS["person"] if n.lemma not in NOT_OCCUPATIONS])
            plural = subject.number == "Plur"
            head = Tok(noun.plural if plural else noun.lemma, noun.lemma, "NOUN", "NNS" if plural else "NN",
                       "Number=Plur" if plural else "Number=Sing")
            pred = [head]
            if self.chance(0.35):
                adj = self.pick(ADJ_TABLE["person"].split() + ["good", "new"])
                pred.insert(0, Tok(adj, adj, "ADJ", "JJ", "Degree=Pos").attach(head, "amod"))
            if not plural:
                pred.insert(0, Tok(a_or_an(pred[0].form), "a", "DET", "DT", DETERMINER_FEATS["a"]).attach(head, "det"))
            chunk(pred, "NP")
        else:
            prep, pcls = self.rng.choice(LOCATION_PPS)
            phrase = self.noun_phrase(pcls, "pobj", pron=0.0, nmod=0.0, mods=0.5)
            head = phrase.head
            pred = [preposition(prep).attach(head, "case")] + phrase.toks

        for tok in group:
            if tok is be or tok.head is be:
                tok.head = head
        be.deprel = "cop"
        subject.attach(head, "nsubj")
        if question:  # "Is the soup hot?", "Will the room be empty?"
            chunk(group[:1], "VP")
            chunk_verb_group(group[1:])
            toks = group[:1] + subject.toks + group[1:] + pred
        else:
            toks = subject.toks + group + pred
        if not self.time_used and self.chance(0.1 if light else 0.25):
            toks += self.time_expression(key, head)
        return toks, head

    def clause_existential(self, tense=None, light=False):
        cls = self.weighted([(3, "person"), (3, "animal"), (3, "thing"), (2, "food"), (1, "vehicle"), (1, "furniture")])
        subject = self.noun_phrase(cls, "subj", indefinite=True, nmod=0.0)
        options, key = self.tam(tense or self.weighted([(5, "past"), (5, "pres"), (1, "fut")]), stative=True, neg=0.0)
        options.pop("adv", None)
        group, be = self.verb_group("be", subject, **options)
        there = Tok("there", "there", "PRON", "EX").attach(be, "expl")
        there.chunk = "B-NP"
        subject.attach(be, "nsubj")
        toks = [there] + group + subject.toks
        prep, pcls = self.rng.choice(LOCATION_PPS)
        if self.chance(0.85):
            toks += self.pp(prep, pcls, be, mods=0.5)
        if not light:
            toks += self.adjuncts(None, key, be, p=0.4)
        return toks, be

    def clause_passive(self, tense=None, light=False):
        verb = self.pick([v for v in TRANSITIVE if v.lemma not in ("have", "want", "need", "like", "love", "hate")])
        cls = self.rng.choice(verb.objects)
        subject = self.noun_phrase(cls, "subj", pron=0.1, nmod=0.05)
        options, key = self.tam(tense, stative=True, neg=0.08)
        group, v = self.verb_group(verb.lemma, subject, passive=True, **options)
        subject.attach(v, "nsubj:pass")
        toks = subject.toks + group
        if self.chance(0.5):
            agent = self.subject_class(verb, True)
            toks += self.pp("by", agent, v, "obl:agent", pron=0.1, name=0.3)
        return toks + self.adjuncts(None, key, v, p=0.8), v

    def clause_ditransitive(self, tense=None, light=False):
        lemma = self.pick(list(DITRANSITIVE))
        subject = self.noun_phrase("person", "subj", nmod=0.03)
        options, key = self.tam(tense, neg=0.08)
        group, v = self.verb_group(lemma, subject, **options)
        subject.attach(v, "nsubj")
        recipient = self.noun_phrase("person", "obj", pron=0.35, name=0.2, mods=0.5, nmod=0.0)
        theme = self.noun_phrase(self.rng.choice(DITRANSITIVE[lemma].split(",")), "obj", pron=0.0, nmod=0.0)
        theme.attach(v, "obj")
        if self.chance(0.6):
            recipient.attach(v, "iobj")
            toks = subject.toks + group + recipient.toks + theme.toks
        else:
            recipient.attach(v, "obl")
            to = preposition("to").attach(recipient.head, "case")
            toks = subject.toks + group + theme.toks + [to] + recipient.toks
        return toks + self.adjuncts(None, key, v, p=0.5), v

    def clause_phrasal(self, tense=None, light=False):
        lemma, particle, objects = self.pick(PHRASAL)
        subject = self.noun_phrase("person", "subj", nmod=0.03)
        options, key = self.tam(tense, neg=0.08)
        group, v = self.verb_group(lemma, subject, **options)
        subject.attach(v, "nsubj")
        if particle in ADVERB_PARTICLES:
            prt = adverb(particle).attach(v, "advmod")
        else:
            prt = Tok(particle, particle, "ADP", "RP").attach(v, "compound:prt")
            prt.chunk = "B-PRT"
        toks = subject.toks + group
        if objects != "-":
            obj = self.noun_phrase(self.rng.choice(objects.split(",")), "obj", pron=0.15, nmod=0.0)
            obj.attach(v, "obj")
            if obj.pronoun or self.chance(0.35):
                toks += obj.toks + [prt]  # "picked it up", "picked the book up"
            else:
                toks += [prt] + obj.toks
        else:
            toks.append(prt)
        return toks + self.adjuncts(None, key, v, p=0.8), v

    def clause_control(self, tense=None, light=False):
        """"She wants to buy a car": xcomp with "to"."""
        lemma = self.pick(CONTROL_VERBS)
        subject = self.noun_phrase("person", "subj", nmod=0.03)
        options, key = self.tam(tense, stative=lemma in STATIVE_CONTROL_VERBS, neg=0.1)
        group, v = self.verb_group(lemma, subject, **options)
        subject.attach(v, "nsubj")
        verb = self.pick(TRANSITIVE if self.chance(0.6) else INTRANSITIVE)
        inner = Tok(verb.lemma, verb.lemma, "VERB", "VB", "VerbForm=Inf").attach(v, "xcomp")
        to = Tok("to", "to", "PART", "TO").attach(inner, "mark")
        to.chunk, inner.chunk = "I-VP", "I-VP"
        toks = subject.toks + group + [to, inner]
        if verb.objects and not ("o" in verb.flags and self.chance(0.3)):
            toks += self.object_for(verb, inner, light=True)
        return toks + self.adjuncts(verb, "any" if key == "past" else key, inner, p=0.7), v

    def clause_complement(self, tense=None, light=False):
        """"Mary said that the dog was hungry": ccomp, with or without "that"."""
        lemma = self.pick(CLAUSE_VERBS)
        subject = self.noun_phrase("person", "subj", nmod=0.03)
        options, key = self.tam(tense, stative=lemma in STATIVE_CLAUSE_VERBS, neg=0.06)
        group, v = self.verb_group(lemma, subject, **options)
        subject.attach(v, "nsubj")
        inner_tense = "past" if options.get("tense") == "past" else None
        inner, h = self.small_clause(inner_tense)
        h.attach(v, "ccomp")
        toks = subject.toks + group
        if self.chance(0.6):
            that = Tok("that", "that", "SCONJ", "IN").attach(h, "mark")
            that.chunk = "B-SBAR"
            toks.append(that)
        return toks + inner, v

    def small_clause(self, tense=None):
        kind = self.weighted([(40, self.clause_transitive), (35, self.clause_intransitive), (25, self.clause_copula)])
        return kind(tense, light=True)

    # ----- sentences ----------------------------------------------------------

    def finish(self, toks, head, mark="."):
        """Make ``head`` the root, add final punctuation, capitalize the first word."""
        head.attach(None, "root")
        if mark:
            toks.append(punct(mark).attach(head, "punct"))
        first = toks[0]
        first.form = capitalize(first.form)
        if first.mwt:
            first.mwt = (capitalize(first.mwt[0]), first.mwt[1])
        return Sentence(toks)

    def declarative(self, toks, head):
        """Maybe front an adverb or a time expression, then finish."""
        r = self.rng.random()
        if r < 0.06:
            word = self.pick(SENTENCE_ADVS)
            toks = [adverb(word).attach(head, "advmod"), punct(",").attach(head, "punct")] + toks
        elif r < 0.1 and not self.time_used:
            toks = self.time_expression("any", head) + [punct(",").attach(head, "punct")] + toks
        elif r < 0.12:
            toks = [adverb("then").attach(head, "advmod")] + toks
        return self.finish(toks, head, self.weighted([(92, "."), (3, "!"), (5, None)]))

    def sentence(self):
        self.time_used = False
        kind = self.weighted([
            (20, "transitive"), (10, "intransitive"), (11, "copula"), (3, "existential"),
            (3, "passive"), (3, "ditransitive"), (4, "phrasal"), (5, "control"),
            (5, "complement"), (6, "adverbial"), (7, "coordination"), (9, "question"),
            (4, "imperative"), (3, "relative"), (1, "money"),
        ])
        if kind == "adverbial":
            return self.s_adverbial()
        if kind == "coordination":
            return self.s_coordination()
        if kind == "question":
            return self.s_question()
        if kind == "imperative":
            return self.s_imperative()
        if kind == "relative":
            return self.s_relative()
        if kind == "money":
            return self.s_money()
        toks, head = getattr(self, "clause_" + kind)()
        return self.declarative(toks, head)

    def s_adverbial(self):
        """"When the bus arrived, the children left." / "..., because it was late."""
        mark = self.pick(SUBORDINATORS)
        tense = "past" if self.chance(0.6) and mark != "if" else "pres"
        sub, sh = self.small_clause(tense)
        main, mh = self.small_clause("fut" if mark == "if" else tense)
        sh.attach(mh, "advcl")
        m = Tok(mark, mark, "SCONJ", "IN").attach(sh, "mark")
        m.chunk = "B-SBAR"
        if self.chance(0.4):
            toks = [m] + sub + [punct(",").attach(mh, "punct")] + main
        else:
            toks = main + [m] + sub
        return self.finish(toks, mh, ".")

    def s_coordination(self):
        if self.chance(0.5):  # two clauses
            tense = self.weighted([(5, "past"), (4, "pres"), (1, "fut")])
            first, h1 = self.small_clause(tense)
            second, h2 = self.small_clause(tense)
            word = self.weighted([(6, "and"), (3, "but"), (1, "or")])
            toks = first
            if self.chance(0.5 if word == "but" else 0.25):
                toks.append(punct(",").attach(h2, "punct"))
            toks.append(Tok(word, word, "CCONJ", "CC").attach(h2, "cc"))
            h2.attach(h1, "conj")
            return self.finish(toks + second, h1, ".")
        # two verb phrases with one subject: "The children sang and danced."
        verb1 = self.pick(VERBS)
        subject = self.noun_phrase(self.subject_class(verb1, bool(verb1.objects)), "subj", nmod=0.03)
        tense = self.rng.choice(["past", "pres"])
        group1, v1 = self.verb_group(verb1.lemma, subject, tense=tense)
        subject.attach(v1, "nsubj")
        toks = subject.toks + group1
        if verb1.objects and subject.cls in ("person", "animal"):
            toks += self.object_for(verb1, v1, light=True)
        verb2 = self.pick([v for v in self.verbs_for_subject(subject.cls) if v is not verb1])
        animate = subject.cls in ("person", "animal")
        group2, v2 = self.verb_group(verb2.lemma, subject, tense=tense)
        v2.attach(v1, "conj")
        toks.append(Tok("and", "and", "CCONJ", "CC").attach(v2, "cc"))
        toks += group2
        if animate and verb2.objects and not ("o" in verb2.flags and self.chance(0.4)):
            toks += self.object_for(verb2, v2, light=True)
        toks += self.adjuncts(verb2, "past" if tense == "past" else "hab", v2, p=0.6)
        return self.finish(toks, v1, ".")

    def s_question(self):
        kind = self.weighted([(30, "yes-no"), (12, "yes-no-copula"), (20, "wh-object"), (15, "wh-subject"), (20, "wh-adverb")])
        if kind == "yes-no-copula":
            toks, head = self.clause_copula(self.weighted([(5, "pres"), (3, "past"), (1, "fut")]), light=True, question=True)
            return self.finish(toks, head, "?")
        if kind == "wh-subject":
            verb = self.pick(TRANSITIVE)
            word = self.weighted([(3, "who"), (1, "which")]) if verb.objects else "who"
            subject_toks = []
            if word == "who":
                w = Tok("Who", "who", "PRON", "WP", "PronType=Int")
                subject = Phrase([w], w, "Sing", 3, "person")
            else:
                noun = self.pick(NOUNS["person"])
                w = Tok(noun.lemma, noun.lemma, "NOUN", "NN", "Number=Sing")
                subject_toks = [Tok("Which", "which", "DET", "WDT", "PronType=Int").attach(w, "det")]
                subject = Phrase(subject_toks + [w], w, "Sing", 3, "person")
            chunk(subject.toks, "NP")
            options, key = self.tam(stative="s" in verb.flags, neg=0.0, adv=0.0)
            group, v = self.verb_group(verb.lemma, subject, **options)
            subject.attach(v, "nsubj")
            toks = subject.toks + group + self.object_for(verb, v, light=True) + self.adjuncts(verb, key, v, p=0.5)
            return self.finish(toks, v, "?")

        wh_object = kind == "wh-object"
        verb = self.pick(TRANSITIVE if wh_object or self.chance(0.6) else INTRANSITIVE)
        subject = self.noun_phrase(self.subject_class(verb, bool(verb.objects)), "subj", nmod=0.0)
        options, key = self.tam(stative="s" in verb.flags, neg=0.0, adv=0.05)
        group, v = self.verb_group(verb.lemma, subject, do_support=True, **options)
        subject.attach(v, "nsubj")
        first, rest = group[0], group[1:]
        chunk([first], "VP")
        chunk_verb_group(rest)
        front = []
        if wh_object:
            cls = self.rng.choice(verb.objects)
            if self.chance(0.3) and cls not in ("person",):
                noun = self.pick(NOUNS[cls])
                obj = Tok(noun.lemma, noun.lemma, "NOUN", "NN", "Number=Sing")
                front = chunk([Tok("Which", "which", "DET", "WDT", "PronType=Int").attach(obj, "det"), obj], "NP")
            else:
                obj = Tok("Who" if cls == "person" else "What", "who" if cls == "person" else "what", "PRON", "WP", "PronType=Int")
                front = chunk([obj], "NP")
            obj.attach(v, "obj")
            after = self.adjuncts(verb, key, v, p=0.6)
        else:
            after = []
            if kind == "wh-adverb":
                word = self.pick(["where", "when", "why", "how"])
                front = [adverb(capitalize(word)).attach(v, "advmod")]
                front[0].lemma, front[0].xpos, front[0].feats = word, "WRB", "PronType=Int"
            if verb.objects and not ("o" in verb.flags and self.chance(0.4)):
                after += self.object_for(verb, v, light=True)
            if not front or front[0].lemma != "where":
                after += self.adjuncts(verb, key, v, p=0.6)
        toks = front + [first] + subject.toks + rest + after
        return self.finish(toks, v, "?")

    def s_imperative(self):
        if self.chance(0.25):
            lemma, particle, objects = self.pick(PHRASAL)
            verb = Verb(lemma, [] if objects == "-" else objects.split(","), "")
        else:
            verb = self.pick([v for v in (TRANSITIVE if self.chance(0.75) else INTRANSITIVE) if "s" not in v.flags])
            particle = None
        neg = self.chance(0.2)
        group, v = self.verb_group(verb.lemma, None, mood="imp", neg=neg, contract=self.chance(0.7))
        toks = []
        if not neg and self.chance(0.2):
            please = Tok("please", "please", "INTJ", "UH").attach(v, "discourse")
            please.chunk = "B-INTJ"
            toks.append(please)
        toks += group
        if particle:
            if particle in ADVERB_PARTICLES:
                prt = adverb(particle).attach(v, "advmod")
            else:
                prt = Tok(particle, particle, "ADP", "RP").attach(v, "compound:prt")
                prt.chunk = "B-PRT"
            toks.append(prt)
        if verb.objects and not ("o" in verb.flags and self.chance(0.3)):
            toks += self.object_for(verb, v, light=True)
        toks += self.adjuncts(verb, "fut", v, p=0.6)
        return self.finish(toks, v, self.weighted([(7, "."), (3, "!")]))

    def s_relative(self):
        """A transitive clause whose subject or object has a relative clause."""
        verb = self.pick(TRANSITIVE)
        on_subject = self.chance(0.5)
        subject = self.noun_phrase(self.subject_class(verb, True), "subj", pron=0.0, name=0.0, nmod=0.0, rel=1.0 if on_subject else 0.0)
        options, key = self.tam(stative="s" in verb.flags)
        group, v = self.verb_group(verb.lemma, subject, **options)
        subject.attach(v, "nsubj")
        cls = self.rng.choice(verb.objects)
        obj = self.noun_phrase(cls, "obj", pron=0.0, name=0.0, nmod=0.0, rel=0.0 if on_subject else 1.0)
        obj.attach(v, "obj")
        return self.finish(subject.toks + group + obj.toks, v, ".")

    def s_money(self):
        """"The ticket costs $20."."""
        subject = self.noun_phrase(self.rng.choice(["thing", "food", "clothes", "text"]), "subj", pron=0.0, nmod=0.0)
        tense = self.rng.choice(["past", "pres"])
        group, v = self.verb_group("cost", subject, tense=tense)
        subject.attach(v, "nsubj")
        dollar = Tok("$", "$", "SYM", "$").attach(v, "obj")
        amount = self.pick(NUMBER_DIGITS)
        number = Tok(amount, amount, "NUM", "CD", "NumForm=Digit|NumType=Card").attach(dollar, "nummod")
        return self.finish(subject.toks + group + chunk([dollar, number], "NP"), v, ".")

    def s_gapping(self):
        """"John likes tea and Mary coffee.": an empty node stands for the gapped verb."""
        verb = self.pick([v for v in TRANSITIVE if v.lemma in ("like", "eat", "drink", "buy", "read", "play", "love")])
        tense = self.rng.choice(["past", "pres"])
        s1, s2 = self.person_name(), self.person_name()
        while s2.head.form == s1.head.form:
            s2 = self.person_name()
        cls = self.rng.choice([c for c in verb.objects if c != "person"])
        nouns = [n for n in NOUNS[cls] if n.lemma != verb.lemma]  # not "drinks drinks"
        n1 = self.pick(nouns)
        n2 = self.pick([n for n in nouns if n.lemma != n1.lemma])
        o1, o2 = (Phrase(chunk([t], "NP"), t) for t in (
            Tok(n.plural or n.lemma, n.lemma, "NOUN", "NNS" if n.plural else "NN",
                "Number=Plur" if n.plural else "Number=Sing") for n in (n1, n2)))
        group, v = self.verb_group(verb.lemma, s1, tense=tense)
        s1.attach(v, "nsubj")
        o1.attach(v, "obj")
        cc = Tok("and", "and", "CCONJ", "CC").attach(s2.head, "cc")
        s2.attach(v, "conj")
        o2.attach(s2.head, "orphan")
        toks = s1.toks + group + o1.toks + [cc] + s2.toks + o2.toks
        sentence = self.finish(toks, v, ".")
        ids = {id(t): i for i, t in enumerate(sentence.toks, start=1)}
        gap = ids[id(s2.toks[-1])]
        empty = f"{gap}.1"
        for tok in sentence.toks:  # enhanced graph: basic relations, rerouted through the empty node
            tok.deps = f"{0 if tok.head is None else ids[id(tok.head)]}:{tok.deprel}"
        cc.deps, s2.head.deps, o2.head.deps = f"{empty}:cc", f"{empty}:nsubj", f"{empty}:obj"
        verb_tok = group[-1]
        line = "\t".join([empty, verb_tok.form, verb_tok.lemma, verb_tok.upos, verb_tok.xpos,
                          verb_feats(verb.lemma, verb_tok.xpos, 3, "Sing"), "_", "_",
                          f"{ids[id(v)]}:conj", f"CopyOf={ids[id(v)]}"])
        sentence.empty_nodes = {gap: [line]}
        return sentence


# =============================================================================
# Checks and writers
# =============================================================================


def check_sentence(sentence):
    """Every word has a head in the sentence, one root, no cycle, valid IOB2 chunks."""
    toks = sentence.toks
    members = {id(t) for t in toks}
    roots = [t for t in toks if t.head is None]
    assert len(roots) == 1 and roots[0].deprel == "root", [t.form for t in toks]
    for tok in toks:
        assert tok.deprel and (tok.head is None or id(tok.head) in members), (tok.form, [t.form for t in toks])
        seen, node = set(), tok
        while node is not None:
            assert id(node) not in seen, "cycle in " + " ".join(t.form for t in toks)
            seen.add(id(node))
            node = node.head
    previous = "O"
    for tok in toks:
        if tok.chunk.startswith("I-"):
            assert previous != "O" and previous[2:] == tok.chunk[2:], (tok.form, [(t.form, t.chunk) for t in toks])
        previous = tok.chunk


def space_after(toks, i):
    """Whether a space follows word ``i`` (the last word: True, left unmarked)."""
    if i + 1 >= len(toks):
        return True
    following = toks[i + 1]
    return not (following.form in (",", ".", "?", "!") or following.xpos == "POS" or toks[i].form == "$")


def text_of(toks):
    out, i = [], 0
    while i < len(toks):
        surface, n = toks[i].mwt or (toks[i].form, 1)
        last = i + n - 1
        out.append(surface)
        if last + 1 < len(toks) and space_after(toks, last):
            out.append(" ")
        i = last + 1
    return "".join(out)


def conllu_block(sentence, sent_id):
    toks = sentence.toks
    ids = {id(t): i for i, t in enumerate(toks, start=1)}
    lines = [f"# sent_id = {sent_id}", f"# text = {text_of(toks)}"]
    mwt_end = 0
    for i, tok in enumerate(toks, start=1):
        if tok.mwt:
            surface, n = tok.mwt
            mwt_end = i + n - 1
            misc = "_" if space_after(toks, mwt_end - 1) else "SpaceAfter=No"
            lines.append("\t".join([f"{i}-{mwt_end}", surface] + ["_"] * 7 + [misc]))
        head = 0 if tok.head is None else ids[id(tok.head)]
        misc = "_" if i <= mwt_end or space_after(toks, i - 1) else "SpaceAfter=No"
        lines.append("\t".join([str(i), tok.form, tok.lemma, tok.upos, tok.xpos, tok.feats, str(head),
                                tok.deprel, tok.deps or "_", misc]))
        lines.extend(sentence.empty_nodes.get(i, []))
    return "\n".join(lines) + "\n\n"


def chunk_block(sentence):
    return "".join(f"{t.form} {t.xpos} {t.chunk}\n" for t in sentence.toks) + "\n"


def make_sentences(seed, n, dev, gapping_at=()):
    grammar = Grammar(seed, dev)
    sentences = []
    while len(sentences) < n:
        sentence = grammar.s_gapping() if len(sentences) in gapping_at else grammar.sentence()
        if len(sentence.toks) > 30:  # keep the sample short and quick to train on
            continue
        check_sentence(sentence)
        sentences.append(sentence)
    return sentences


def write_treebank(path, split, seed, n, dev, gapping_at):
    parts = []
    for i, sentence in enumerate(make_sentences(seed, n, dev, gapping_at), start=1):
        if i % 25 == 1:
            parts.append(f"# newdoc id = sample-{split}-doc{i // 25 + 1:02d}\n")
        parts.append(conllu_block(sentence, f"sample-{split}-{i:04d}"))
    path.write_text("".join(parts), encoding="utf-8", newline="\n")


def write_chunks(path, seed, n, dev):
    text = "".join(chunk_block(s) for s in make_sentences(seed, n, dev))
    path.write_text(text, encoding="utf-8", newline="\n")


# =============================================================================
# Sentence pairs (SICK and SNLI style)
# =============================================================================

# Subjects: noun -> (plural, kind, synonym, hypernyms from specific to general).
PAIR_SUBJECTS = {
    "man": ("men", "person", "guy", ["person"]),
    "woman": ("women", "person", "lady", ["person"]),
    "boy": ("boys", "person", None, ["child", "person"]),
    "girl": ("girls", "person", None, ["child", "person"]),
    "child": ("children", "person", "kid", ["person"]),
    "chef": ("chefs", "person", "cook", ["person"]),
    "musician": ("musicians", "person", None, ["person"]),
    "player": ("players", "person", None, ["person"]),
    "student": ("students", "person", None, ["person"]),
    "tourist": ("tourists", "person", None, ["person"]),
    "dog": ("dogs", "animal", None, ["animal"]),
    "puppy": ("puppies", "animal", None, ["dog", "animal"]),
    "cat": ("cats", "animal", None, ["animal"]),
    "kitten": ("kittens", "animal", None, ["cat", "animal"]),
    "horse": ("horses", "animal", None, ["animal"]),
    "bird": ("birds", "animal", None, ["animal"]),
}
PAIR_PLURALS = {"person": "people", "child": "children", "kid": "kids", "animal": "animals",
                "guy": "guys", "lady": "ladies", "cook": "cooks", "dog": "dogs", "cat": "cats"}
PAIR_SUBJECT_ADJS = {"person": ["young", "old", "tall", "blond", "smiling"],
                     "animal": ["black", "white", "brown", "small", "big", "little"]}

# Objects: noun -> (plural, hypernym, synonym).
PAIR_OBJECTS = {
    "guitar": ("guitars", "instrument", None), "piano": ("pianos", "instrument", None),
    "flute": ("flutes", "instrument", None), "violin": ("violins", "instrument", None),
    "drum": ("drums", "instrument", None), "saxophone": ("saxophones", "instrument", None),
    "onion": ("onions", "vegetable", None), "tomato": ("tomatoes", "vegetable", None),
    "potato": ("potatoes", "vegetable", None), "carrot": ("carrots", "vegetable", None),
    "cucumber": ("cucumbers", "vegetable", None), "apple": ("apples", "fruit", None),
    "banana": ("bananas", "fruit", None), "orange": ("oranges", "fruit", None),
    "pear": ("pears", "fruit", None), "sandwich": ("sandwiches", "food", None),
    "pizza": ("pizzas", "food", None), "cake": ("cakes", "food", None),
    "bike": ("bikes", None, "bicycle"), "horse": ("horses", "animal", None),
    "motorcycle": ("motorcycles", None, "motorbike"), "skateboard": ("skateboards", None, None),
    "book": ("books", None, None), "newspaper": ("newspapers", None, "paper"),
    "letter": ("letters", None, None), "magazine": ("magazines", None, None),
    "note": ("notes", None, None), "meal": ("meals", "food", None), "egg": ("eggs", "food", None),
    "ball": ("balls", None, None), "frisbee": ("frisbees", None, None), "stick": ("sticks", None, None),
    "stone": ("stones", None, "rock"), "box": ("boxes", None, None), "bag": ("bags", None, None),
    "basket": ("baskets", None, None), "car": ("cars", "vehicle", None), "truck": ("trucks", "vehicle", None),
    "bus": ("buses", "vehicle", None), "window": ("windows", None, None), "wall": ("walls", None, None),
    "fence": ("fences", None, None), "picture": ("pictures", None, "painting"), "tree": ("trees", "plant", None),
    "rock": ("rocks", None, "stone"), "umbrella": ("umbrellas", None, None), "baby": ("babies", "child", None),
    "cup": ("cups", None, None), "flower": ("flowers", "plant", None), "cat": ("cats", "animal", None),
    "bird": ("birds", "animal", None), "water": (None, None, None), "coffee": (None, None, None),
    "milk": (None, None, None), "juice": (None, None, None), "soup": (None, "food", None),
    "pasta": (None, "food", None), "hill": ("hills", None, None),
}
PAIR_MASS = {"water", "coffee", "milk", "juice", "soup", "pasta", "food"}
PAIR_FOOD_ADJS = ["big", "small", "fresh"]
PAIR_OBJECT_ADJS = ["red", "blue", "black", "white", "big", "small", "old", "new"]


class Action:
    __slots__ = ("ing", "participle", "kinds", "objects", "optional", "places", "synonym")

    def __init__(self, ing, participle, kinds, objects, optional, places, synonym=None):
        self.ing, self.participle, self.kinds = ing, participle, kinds.split()
        self.objects, self.optional, self.places, self.synonym = objects.split(), optional, places, synonym


ACTIONS = [
    Action("playing", "played", "person", "guitar piano flute violin drum saxophone", True, "music"),
    Action("slicing", "sliced", "person", "onion tomato potato carrot cucumber", False, "kitchen", "cutting"),
    Action("chopping", "chopped", "person", "onion carrot potato tomato", False, "kitchen", "cutting"),
    Action("peeling", "peeled", "person", "potato banana orange onion carrot", False, "kitchen"),
    Action("eating", "eaten", "person animal", "apple banana sandwich pizza cake orange pear", True, "any"),
    Action("drinking", None, "person animal", "water coffee milk juice", True, "any"),
    Action("riding", "ridden", "person", "bike horse motorcycle skateboard", False, "outdoor"),
    Action("reading", "read", "person", "book newspaper letter magazine", True, "indoor"),
    Action("writing", "written", "person", "letter note book", True, "indoor"),
    Action("cooking", "cooked", "person", "meal soup pasta egg", True, "kitchen", "preparing"),
    Action("throwing", "thrown", "person", "ball stick frisbee stone", False, "outdoor", "tossing"),
    Action("catching", "caught", "person animal", "ball frisbee stick", False, "outdoor"),
    Action("kicking", "kicked", "person", "ball", False, "outdoor"),
    Action("chasing", "chased", "animal person", "ball cat bird", False, "outdoor"),
    Action("carrying", "carried", "person", "box bag basket baby", False, "any"),
    Action("driving", "driven", "person", "car truck bus", True, "road"),
    Action("washing", "washed", "person", "car window cup", False, "any", "cleaning"),
    Action("painting", "painted", "person", "wall fence picture", True, "any"),
    Action("climbing", "climbed", "person animal", "tree wall rock hill", True, "outdoor"),
    Action("holding", "held", "person", "umbrella baby cup flower", False, "any"),
    Action("running", None, "person animal", "", True, "outdoor"),
    Action("walking", None, "person animal", "", True, "outdoor"),
    Action("jumping", None, "person animal", "", True, "outdoor"),
    Action("swimming", None, "person animal", "", True, "water"),
    Action("sleeping", None, "person animal", "", True, "rest"),
    Action("sitting", None, "person animal", "", True, "rest"),
    Action("lying", None, "person animal", "", True, "rest"),
    Action("standing", None, "person animal", "", True, "any"),
    Action("dancing", None, "person", "", True, "music"),
    Action("singing", None, "person", "", True, "music"),
    Action("laughing", None, "person", "", True, "any"),
    Action("crying", None, "person", "", True, "any"),
    Action("talking", None, "person", "", True, "any"),
]
ACTION_BY_ING = {a.ing: a for a in ACTIONS}

# Actions that cannot happen at once: a pair with the same subject contradicts.
_RESTING = {"sleeping", "lying"}
INCOMPATIBLE = set()
for _a in ACTIONS:
    if _a.ing not in _RESTING:
        INCOMPATIBLE.add(frozenset(("sleeping", _a.ing)))
for _pair in [("sitting", "standing"), ("sitting", "running"), ("sitting", "walking"), ("sitting", "jumping"),
              ("sitting", "dancing"), ("lying", "standing"), ("lying", "running"), ("lying", "walking"),
              ("lying", "jumping"), ("lying", "dancing"), ("standing", "swimming"), ("laughing", "crying"),
              ("sitting", "lying"), ("swimming", "driving"), ("running", "driving")]:
    INCOMPATIBLE.add(frozenset(_pair))
for _a in ACTIONS:  # nobody swims, drives or rides while doing most other things
    for _busy, _ok in [("swimming", {"laughing", "talking", "crying"}),
                       ("driving", {"laughing", "talking", "crying", "singing", "eating", "drinking", "sitting"}),
                       ("riding", {"laughing", "talking", "crying", "singing", "sitting", "holding", "drinking"})]:
        if _a.ing != _busy and _a.ing not in _ok:
            INCOMPATIBLE.add(frozenset((_busy, _a.ing)))

PAIR_PLACES = {
    "outdoor": ["in the park", "on the beach", "on the street", "in a field", "on the grass", "in the snow", "in the yard"],
    "kitchen": ["in the kitchen", "on a cutting board", "in a kitchen"],
    "music": ["on a stage", "in a room", "in the park", "on the street"],
    "indoor": ["in a room", "in the library", "at a table", "on the couch"],
    "water": ["in the water", "in a pool", "in the lake", "in the sea", "in the river"],
    "rest": ["on the grass", "on the couch", "on a bed", "on the floor", "under a tree", "on the beach"],
    "road": ["on the road", "on the street", "in the city"],
    "any": ["in the park", "in a room", "on the street", "outside a house"],
}
COUNT_WORDS = ["Two", "Three", "Some", "Several", "Four"]
STOPWORDS = {"a", "an", "the", "is", "are", "being", "by", "there", "of", "some", "two", "three",
             "four", "several", "in", "on", "at", "under", "outside"}


class Scene:
    """A SICK-style sentence before it is written out as words."""

    def __init__(self, **fields):
        self.subject = fields.get("subject")        # noun actually written (maybe a synonym)
        self.base = fields.get("base")              # key of PAIR_SUBJECTS
        self.plural = fields.get("plural", False)
        self.count = fields.get("count")            # "Two", ... for plurals
        self.subject_adj = fields.get("subject_adj")
        self.det = fields.get("det", "a")
        self.action = fields.get("action")          # -ing form written
        self.base_action = fields.get("base_action")
        self.obj = fields.get("obj")                # object noun written
        self.base_obj = fields.get("base_obj")
        self.obj_adj = fields.get("obj_adj")
        self.place = fields.get("place")
        self.form = fields.get("form", "plain")     # plain there there-no nobody passive
        self.neg = fields.get("neg", False)

    def copy(self, **changes):
        scene = Scene(**vars_of(self))
        for name, value in changes.items():
            setattr(scene, name, value)
        return scene


def vars_of(scene):
    return {name: getattr(scene, name) for name in ("subject", "base", "plural", "count", "subject_adj", "det",
                                                    "action", "base_action", "obj", "base_obj", "obj_adj",
                                                    "place", "form", "neg")}


def subject_plural(noun):
    if noun in PAIR_SUBJECTS:
        return PAIR_SUBJECTS[noun][0]
    return PAIR_PLURALS.get(noun, noun + "s")


def noun_group(det, adj, noun, plural_form=None, count=None):
    """"a young man", "two black dogs", "water"."""
    if count:
        return " ".join(w for w in (count, adj, plural_form) if w)
    words = [w for w in (adj, noun) if w]
    if noun in PAIR_MASS:
        return " ".join(words)
    article = a_or_an(words[0]) if det == "a" else det
    return " ".join([article] + words)


def write_scene(s):
    subj_np = noun_group(s.det, s.subject_adj, s.subject, subject_plural(s.subject), s.count if s.plural else None)
    be = "are" if s.plural else "is"
    obj_np = noun_group("a", s.obj_adj, s.obj) if s.obj else None
    vp = [s.action] + ([obj_np] if obj_np else []) + ([s.place] if s.place else [])
    if s.form == "there":
        subj_np = noun_group("a", s.subject_adj, s.subject, subject_plural(s.subject), s.count if s.plural else None)
        words = ["There", be, subj_np] + vp
    elif s.form == "there-no":
        noun = subject_plural(s.subject) if s.plural else s.subject
        words = ["There", be, "no"] + ([s.subject_adj] if s.subject_adj else []) + [noun] + vp
    elif s.form == "nobody":
        words = (["Nobody", "is"] if PAIR_SUBJECTS.get(s.base, ("", "person"))[1] == "person"
                 else ["No", s.subject, "is"]) + vp
    elif s.form == "passive":
        obj_first = noun_group(s.det, s.obj_adj, s.obj)
        subj_after = noun_group("a", s.subject_adj, s.subject, subject_plural(s.subject), s.count.lower() if s.plural else None)
        participle = ACTION_BY_ING[s.base_action].participle
        words = [obj_first, "is", "being", participle, "by", subj_after] + ([s.place] if s.place else [])
    else:
        words = [subj_np, be] + (["not"] if s.neg else []) + vp
    return capitalize(" ".join(words))


def content_words(text):
    return {w for w in text.lower().split() if w not in STOPWORDS}


class PairMaker:
    """Makes (sentence_A, sentence_B, relatedness, label) by rules.

    ENTAILMENT: synonym or hypernym substituted, a modifier or the place dropped,
    passive or "There is" rewording -> relatedness 3.9-5. CONTRADICTION: negation,
    "There is no", "Nobody", or an incompatible action with the same subject ->
    2.8-4.6. NEUTRAL: another subject, object or action, a more specific
    hypothesis or an unrelated sentence -> relatedness from word overlap, 1-3.9.
    """

    def __init__(self, seed, dev):
        self.rng = random.Random(seed)
        self.dev = dev

    def choice(self, items):
        items = [i for i in items if self.dev or i not in HELD_OUT]
        return self.rng.choice(items)

    def scene(self, exclude_base=None, exclude_action=None):
        rng = self.rng
        action = self.choice([a.ing for a in ACTIONS if a.ing != exclude_action])
        act = ACTION_BY_ING[action]
        bases = [b for b, info in PAIR_SUBJECTS.items() if info[1] in act.kinds and b != exclude_base]
        base = self.choice(bases)
        kind = PAIR_SUBJECTS[base][1]
        plural = rng.random() < 0.25
        scene = Scene(subject=base, base=base, plural=plural, count=rng.choice(COUNT_WORDS) if plural else None,
                      det="a" if rng.random() < 0.75 else "the", action=action, base_action=action)
        if rng.random() < 0.35:
            scene.subject_adj = rng.choice(PAIR_SUBJECT_ADJS[kind])
        if act.objects and (not act.optional or rng.random() < 0.7):
            obj = self.choice(act.objects)
            scene.obj = scene.base_obj = obj
            if obj not in PAIR_MASS and rng.random() < 0.25:
                food = PAIR_OBJECTS[obj][1] in ("vegetable", "fruit", "food")
                scene.obj_adj = rng.choice(PAIR_FOOD_ADJS if food else PAIR_OBJECT_ADJS)
        if rng.random() < 0.45:
            scene.place = rng.choice(PAIR_PLACES[act.places])
        return scene

    # Each rule returns a hypothesis scene or None when it does not apply.

    def entailment(self, p):
        rng = self.rng
        info = PAIR_SUBJECTS[p.base]
        act = ACTION_BY_ING[p.action]
        obj_info = PAIR_OBJECTS.get(p.obj or "", (None, None, None))
        rules = []
        if info[2]:
            rules.append(("synonym-subject", 4.4, 5.0, lambda: p.copy(subject=info[2])))
        if act.synonym:
            rules.append(("synonym-verb", 4.3, 5.0, lambda: p.copy(action=act.synonym)))
        if obj_info[2]:
            rules.append(("synonym-object", 4.4, 5.0, lambda: p.copy(obj=obj_info[2])))
        rules.append(("hypernym-subject", 4.0, 4.7, lambda: p.copy(subject=rng.choice(info[3]), subject_adj=p.subject_adj if rng.random() < 0.5 else None)))
        if obj_info[1]:
            rules.append(("hypernym-object", 3.9, 4.6, lambda: p.copy(obj=obj_info[1], obj_adj=None)))
        if p.subject_adj:
            rules.append(("drop-adjective", 4.2, 4.9, lambda: p.copy(subject_adj=None)))
        if p.obj_adj:
            rules.append(("drop-adjective", 4.2, 4.9, lambda: p.copy(obj_adj=None)))
        if p.place:
            rules.append(("drop-place", 4.0, 4.8, lambda: p.copy(place=None)))
        if p.obj and act.optional:
            rules.append(("drop-object", 3.8, 4.5, lambda: p.copy(obj=None, obj_adj=None)))
        if p.obj and act.participle and not p.plural and p.obj not in PAIR_MASS:
            rules.append(("passive", 4.5, 5.0, lambda: p.copy(form="passive")))
        rules.append(("there-is", 4.4, 5.0, lambda: p.copy(form="there")))
        name, low, high, make = rng.choice(rules)
        h = make()
        if rng.random() < 0.2 and h.form == "plain" and h.place:  # a second, compatible change
            h.place = None
            low, high = low - 0.2, high - 0.2
        return h, low, high

    def contradiction(self, p):
        rng = self.rng
        rules = [("negation", 3.6, 4.6), ("there-no", 3.5, 4.4), ("nobody", 3.3, 4.2)]
        kind = PAIR_SUBJECTS[p.base][1]
        others = [a for a in ACTIONS if frozenset((a.ing, p.action)) in INCOMPATIBLE and kind in a.kinds]
        if others:
            rules += [("incompatible", 2.8, 3.7)] * 2
        name, low, high = rng.choice(rules)
        if name == "negation":
            h = p.copy(neg=True, place=p.place if rng.random() < 0.6 else None)
        elif name == "there-no":
            h = p.copy(form="there-no", det="a", place=p.place if rng.random() < 0.6 else None)
        elif name == "nobody":
            h = p.copy(form="nobody", plural=False, subject_adj=None, subject=p.base)
        else:
            other = rng.choice(others)
            obj = self.choice(other.objects) if other.objects and (not other.optional or rng.random() < 0.5) else None
            place = rng.choice(PAIR_PLACES[other.places]) if rng.random() < 0.4 else None
            h = p.copy(action=other.ing, base_action=other.ing, obj=obj, base_obj=obj, obj_adj=None, place=place)
        return h, low, high

    def neutral(self, p):
        rng = self.rng
        act = ACTION_BY_ING[p.action]
        kind = PAIR_SUBJECTS[p.base][1]
        info = PAIR_SUBJECTS[p.base]
        rules = ["unrelated", "other-subject"]
        if not p.subject_adj:
            rules.append("add-adjective")
        if not p.place:
            rules.append("add-place")
        if p.obj and len(act.objects) > 1:
            rules.append("other-object")
        rules += ["other-action", "reverse-hypernym"]
        name = rng.choice(rules)
        if name == "unrelated":
            return self.scene(exclude_base=p.base, exclude_action=p.action)
        if name == "add-adjective":
            return p.copy(subject_adj=rng.choice(PAIR_SUBJECT_ADJS[kind]))
        if name == "add-place":
            return p.copy(place=rng.choice(PAIR_PLACES[act.places]))
        if name == "other-object":
            obj = self.choice([o for o in act.objects if o != p.base_obj])
            return p.copy(obj=obj, base_obj=obj, obj_adj=None)
        if name == "reverse-hypernym":  # the premise is the general one
            return p.copy(), "reverse"
        if name == "other-subject":
            related = {p.base, info[2], *info[3]}
            siblings = [b for b, i in PAIR_SUBJECTS.items()
                        if i[1] == kind and b not in related and p.base not in i[3] and (self.dev or b not in HELD_OUT)]
            base = rng.choice(siblings)
            return p.copy(subject=base, base=base)
        # another action that can happen at the same time
        others = [a for a in ACTIONS if a.ing != p.action and frozenset((a.ing, p.action)) not in INCOMPATIBLE
                  and kind in a.kinds]
        other = rng.choice(others)
        obj = self.choice(other.objects) if other.objects and (not other.optional or rng.random() < 0.5) else None
        return p.copy(action=other.ing, base_action=other.ing, obj=obj, base_obj=obj, obj_adj=None,
                      place=p.place if rng.random() < 0.5 else None)

    def pair(self):
        """(sentence_A, sentence_B, relatedness, label)."""
        rng = self.rng
        p = self.scene()
        label = rng.choices(["ENTAILMENT", "CONTRADICTION", "NEUTRAL"], [34, 26, 40])[0]
        if label == "ENTAILMENT":
            h, low, high = self.entailment(p)
        elif label == "CONTRADICTION":
            h, low, high = self.contradiction(p)
        else:
            h = self.neutral(p)
            if isinstance(h, tuple):  # premise generalized, hypothesis specific
                h = h[0]
                p = p.copy(subject=rng.choice(PAIR_SUBJECTS[p.base][3]))
            a, b = write_scene(p), write_scene(h)
            wa, wb = content_words(a), content_words(b)
            overlap = len(wa & wb) / max(1, len(wa | wb))
            score = 1.0 + 2.8 * overlap + rng.gauss(0, 0.2)
            return a, b, round(min(3.9, max(1.0, score)), 1), label
        score = rng.uniform(low, high) + rng.gauss(0, 0.12)
        return write_scene(p), write_scene(h), round(min(5.0, max(1.0, score)), 1), label


def format_score(score):
    return str(int(score)) if score == int(score) else f"{score:.1f}"


def make_pairs(seed, n, dev):
    maker = PairMaker(seed, dev)
    pairs, seen = [], set()
    while len(pairs) < n:
        a, b, score, label = maker.pair()
        if a == b and label != "ENTAILMENT" or (a, b) in seen:
            continue
        seen.add((a, b))
        pairs.append((a, b, score, label))
    return pairs, maker.rng


def write_sick(path, seed, n, dev, first_id):
    pairs, rng = make_pairs(seed, n, dev)
    lines = ["pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"]
    pair_id = first_id
    for a, b, score, label in pairs:
        if rng.random() < 0.03:  # a few sentences end with a period, as in SICK
            b += "."
        lines.append(f"{pair_id}\t{a}\t{b}\t{format_score(score)}\t{label}")
        pair_id += rng.choice([1, 1, 2, 3])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return pair_id


def write_snli(path, seed, n, dev, no_gold_at=(17, 38, 51)):
    """SNLI-style JSON lines; items at ``no_gold_at`` have no majority label ("-")."""
    pairs, rng = make_pairs(seed, n, dev)
    lines = []
    for i, (a, b, _, label) in enumerate(pairs):
        gold = label.lower()
        labels = [gold] * 5
        for k in rng.sample(range(5), rng.choice([0, 0, 1, 2])):
            labels[k] = rng.choice([x for x in ("entailment", "neutral", "contradiction") if x != gold])
        if i in no_gold_at:
            others = [x for x in ("entailment", "neutral", "contradiction") if x != gold]
            labels = [gold, gold, others[0], others[0], others[1]]
            rng.shuffle(labels)
            gold_label = "-"
        else:
            gold_label = max(set(labels), key=lambda x: (labels.count(x), x == gold))
        caption = f"{5000000000 + rng.randrange(10 ** 8)}.jpg#{rng.randrange(5)}"
        item = {"annotator_labels": labels, "captionID": caption, "gold_label": gold_label,
                "pairID": f"{caption}r1{label[0].lower()}", "sentence1": a + ".", "sentence2": b + "."}
        lines.append(json.dumps(item))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")


# =============================================================================
# Main
# =============================================================================


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=OUT_DIR, help="output directory (default: corpora/sample)")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    write_treebank(out / "train.conllu", "train", SEED_TREEBANK_TRAIN, N_TREEBANK_TRAIN, False, gapping_at={37})
    write_treebank(out / "dev.conllu", "dev", SEED_TREEBANK_DEV, N_TREEBANK_DEV, True, gapping_at={11})
    write_chunks(out / "chunk_train.txt", SEED_CHUNK_TRAIN, N_CHUNK_TRAIN, False)
    write_chunks(out / "chunk_dev.txt", SEED_CHUNK_DEV, N_CHUNK_DEV, True)
    next_id = write_sick(out / "pairs_train.tsv", SEED_PAIRS_TRAIN, N_PAIRS_TRAIN, False, first_id=1)
    write_sick(out / "pairs_dev.tsv", SEED_PAIRS_DEV, N_PAIRS_DEV, True, first_id=next_id + 10)
    write_snli(out / "pairs_dev.jsonl", SEED_SNLI_DEV, N_SNLI_DEV, True)
    for path in sorted(out.iterdir()):
        if path.is_file():
            print(f"{path.name:<18} {path.stat().st_size:>8,} bytes")


if __name__ == "__main__":
    main()

"""Open-vocabulary sentences for `--text free`: thousands of plain English sentences.

Written for this project (Apache-2.0 like the rest of it): sixteen sentence templates over
small hand-written word lists (people, animals, things, food, places, times, ...) that keep
each sentence plausible, so that a recogniser's language model neither helps nor hurts much.
`SENTENCE_COUNT` distinct sentences are drawn from the templates once, in turn, with a fixed
seed: the same list on every machine and in every release, so a corpus's sentences depend only
on its own seed. Every sentence has 4-12 words, only letters (no digits, abbreviations,
hyphens or apostrophes, which espeak-ng and the judges read differently), and ends in "." or
"?"; about 450 distinct words in all.
"""

from __future__ import annotations

from functools import cache

import numpy as np

SENTENCE_COUNT = 6000
_SEED = 20261207
MIN_WORDS, MAX_WORDS = 4, 12

NAMES = (
    "Anna", "Peter", "Maria", "David", "Laura", "Thomas", "Emma", "Daniel", "Sarah", "Michael",
    "Julia", "Robert", "Helen", "James", "Lucy", "Martin", "Grace", "Simon", "Alice", "Oliver",
    "Rose", "Henry", "Clara", "Samuel", "Nora", "Victor", "Ellen", "Frank", "Paula", "George",
)  # fmt: skip
PEOPLE = (
    "the teacher", "the doctor", "my brother", "her sister", "the old man", "the young woman",
    "our neighbor", "the farmer", "the driver", "the captain", "the baker", "the child",
    "his father", "my mother", "the nurse", "the pilot", "the painter", "the student",
    "the fisherman", "the waiter", "my uncle", "your aunt", "the guard", "the singer",
)  # fmt: skip
ANIMALS = (
    "dog", "cat", "horse", "bird", "fox", "rabbit", "goat", "duck", "mouse", "owl", "cow",
    "sheep", "puppy", "kitten", "pony", "goose", "squirrel", "frog", "crow", "donkey",
)  # fmt: skip
ANIMAL_ADJECTIVES = (
    "small", "large", "old", "young", "brown", "white", "black", "tiny", "fat", "thin", "wild",
    "hungry", "lazy", "noisy", "clever", "sleepy",
)  # fmt: skip
ANIMAL_VERBS = (
    "slept", "waited", "hid", "sat", "played", "rested", "walked", "stood", "ran around",
    "looked for food", "stayed", "lay down", "made a nest", "called out",
)  # fmt: skip
ANIMAL_STATES = (
    "hungry", "asleep", "lost", "hiding", "tired", "hurt", "afraid of the dark", "very old",
    "looking for its mother", "too fat to run", "quite friendly", "wet and cold",
)  # fmt: skip
PLACES = (
    "near the river", "under the bridge", "behind the barn", "in the garden", "by the window",
    "on the hill", "at the station", "in the kitchen", "across the field", "outside the shop",
    "beside the lake", "inside the tent", "along the road", "next to the fence",
    "at the market", "in the attic", "on the beach", "under the old tree", "in the hallway",
    "by the front door", "near the church", "on the boat", "in the forest", "behind the house",
)  # fmt: skip
TIMES = (
    "this morning", "last night", "every Sunday", "after dinner", "before noon",
    "in the spring", "yesterday", "at dawn", "all afternoon", "on Monday", "last winter",
    "every evening", "on Friday night", "at the weekend", "after school", "before breakfast",
    "in the autumn", "late at night", "early today", "last summer",
)  # fmt: skip
FUTURE_TIMES = (
    "tomorrow", "next week", "tonight", "on Saturday", "after lunch", "in the morning",
    "next summer", "later today", "before the holidays", "by the end of the month",
)  # fmt: skip
ADJECTIVES = (
    "small", "large", "old", "new", "heavy", "broken", "bright", "green", "yellow", "brown",
    "clean", "empty", "strange", "tiny", "red", "blue", "dusty", "shiny", "soft", "cheap",
)  # fmt: skip
THINGS = (
    "basket", "lamp", "chair", "letter", "map", "blanket", "candle", "bottle", "kettle",
    "ladder", "bicycle", "jacket", "mirror", "box", "bucket", "umbrella", "suitcase", "clock",
    "hat", "rope", "shovel", "notebook", "radio", "pillow", "key", "coat", "bowl", "picture",
)  # fmt: skip
THING_VERBS = (
    "found", "bought", "carried", "painted", "fixed", "cleaned", "sold", "dropped", "opened",
    "borrowed", "wrapped", "lost", "moved", "hid", "brought", "washed", "left", "forgot",
)  # fmt: skip
THING_COMMANDS = (
    "open", "close", "carry", "clean", "move", "hold", "check", "bring", "wrap", "hang up",
    "put down", "pick up", "fix", "hide", "find", "lift",
)  # fmt: skip
ADVERBS = (
    "slowly", "quickly", "carefully", "quietly", "gently", "right away", "with both hands",
    "for me", "before you leave", "without a sound", "once more", "very carefully",
)  # fmt: skip
THING_STATES = (
    "too heavy to lift", "covered in dust", "left on the table", "still warm", "full of water",
    "hidden in a drawer", "much older than it looked", "broken in two places",
    "wet from the rain", "lying on the floor", "far too small", "a gift from her father",
)  # fmt: skip
FOODS = (
    "fresh bread", "hot soup", "some cheese", "green apples", "rice and beans", "fried fish",
    "a little honey", "chocolate cake", "sweet tea", "strong coffee", "ripe pears",
    "boiled eggs", "cold milk", "warm butter", "sliced oranges", "plum jam", "roast chicken",
    "tomato salad", "lemon pie", "potato stew",
)  # fmt: skip
FOOD_VERBS = ("ate", "cooked", "baked", "shared", "tasted", "made", "ordered", "enjoyed")
WEATHER = (
    "cold", "raining", "very windy", "almost dark", "sunny", "snowing", "foggy",
    "warm and quiet", "getting late", "still early",
)  # fmt: skip
ARRIVALS = ("arrived", "got home", "came back", "woke up", "stopped", "sat down", "left")
TRAVEL = (
    "walked home together", "went to the market", "swam across the lake", "sang a song",
    "played cards", "waited for the bus", "watched the boats", "talked about the weather",
    "cleaned the whole house", "planted some flowers", "painted the fence", "had lunch",
)  # fmt: skip
PLANS = (
    "visit the museum", "paint the kitchen", "buy a new coat", "call the doctor",
    "take the early train", "plant more trees", "write to your sister", "clean the windows",
    "move the table", "feed the horses", "finish the letter", "fix the roof",
)  # fmt: skip
FEELINGS = ("glad", "sorry", "surprised", "sure", "afraid", "happy", "certain", "pleased")
EVENTS = (
    "the rain starts", "it gets dark", "the guests arrive", "the shop closes",
    "the water boils", "the train leaves", "the children wake up", "the sun goes down",
)  # fmt: skip


def _subject(rng: np.random.Generator) -> str:
    return str(rng.choice(NAMES)) if rng.random() < 0.5 else str(rng.choice(PEOPLE))


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return str(words[rng.integers(len(words))])


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _thing(rng: np.random.Generator) -> str:
    adjective, thing = _pick(rng, ADJECTIVES), _pick(rng, THINGS)
    return f"{_article(adjective)} {adjective} {thing}"


_TEMPLATES = (
    lambda r: f"{_subject(r)} {_pick(r, THING_VERBS)} {_thing(r)} {_pick(r, PLACES)}.",
    lambda r: (
        f"The {_pick(r, ANIMALS)} {_pick(r, ANIMAL_VERBS)} {_pick(r, PLACES)} {_pick(r, TIMES)}."
    ),
    lambda r: f"{_subject(r)} {_pick(r, FOOD_VERBS)} {_pick(r, FOODS)} {_pick(r, TIMES)}.",
    lambda r: f"Please {_pick(r, THING_COMMANDS)} the {_pick(r, THINGS)} {_pick(r, ADVERBS)}.",
    lambda r: (
        f"Did you see the {_pick(r, ANIMAL_ADJECTIVES)} {_pick(r, ANIMALS)} {_pick(r, PLACES)}?"
    ),
    lambda r: f"We should {_pick(r, PLANS)} before {_pick(r, EVENTS)}.",
    lambda r: f"The {_pick(r, THINGS)} was {_pick(r, THING_STATES)}.",
    lambda r: f"{_subject(r)} said that the {_pick(r, ANIMALS)} was {_pick(r, ANIMAL_STATES)}.",
    lambda r: f"{_pick(r, NAMES)} and {_pick(r, PEOPLE)} {_pick(r, TRAVEL)}.",
    lambda r: f"It was {_pick(r, WEATHER)} when {_subject(r)} {_pick(r, ARRIVALS)}.",
    lambda r: f"Where did you put the {_pick(r, ADJECTIVES)} {_pick(r, THINGS)}?",
    lambda r: f"I am {_pick(r, FEELINGS)} that {_subject(r)} will {_pick(r, PLANS)}.",
    lambda r: f"Can you {_pick(r, PLANS)} {_pick(r, FUTURE_TIMES)}?",
    lambda r: f"{_subject(r)} {_pick(r, TRAVEL)} {_pick(r, TIMES)}.",
    lambda r: f"There is {_thing(r)} {_pick(r, PLACES)}.",
    lambda r: (
        f"Nobody knew why the {_pick(r, ANIMALS)} {_pick(r, ANIMAL_VERBS)} {_pick(r, PLACES)}."
    ),
)


def _capitalise(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


@cache
def free_sentences() -> tuple[str, ...]:
    """The `SENTENCE_COUNT` distinct sentences, the templates in turn, in a fixed order."""
    rng = np.random.default_rng(_SEED)
    seen: dict[str, None] = {}
    index = 0
    while len(seen) < SENTENCE_COUNT:
        sentence = _capitalise(_TEMPLATES[index % len(_TEMPLATES)](rng))
        index += 1
        if MIN_WORDS <= len(sentence.split()) <= MAX_WORDS:
            seen.setdefault(sentence, None)
    return tuple(seen)

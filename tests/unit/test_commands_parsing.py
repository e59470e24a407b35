"""Command words, typed arguments and command lookup (parsing, arguments, router)."""

from __future__ import annotations

from typing import Any

import pytest

from bots.commands.arguments import Number, Rest, User, Word
from bots.commands.builtin import builtin
from bots.commands.context import CommandContext
from bots.commands.errors import UsageError
from bots.commands.parsing import command_text, command_words, is_command, tokenize
from bots.commands.router import Command, CommandSet, find_command
from bots.i18n import Catalog


async def _noop(ctx: CommandContext, **values: Any) -> None:
    pass


def task_commands(*, add_first: bool) -> list[Command]:
    tasks = CommandSet("tasks")
    declare_add = tasks.command(
        "task add", aliases=("タスク 追加",), help="help.help", args=(Rest("title"),)
    )
    declare_task = tasks.command("task", aliases=("タスク",), help="help.help", args=())
    if add_first:
        declare_add(_noop)
        declare_task(_noop)
    else:
        declare_task(_noop)
        declare_add(_noop)
    return tasks.commands


def find(commands: list[Command], body: str) -> tuple[str, list[str]] | None:
    found = find_command(commands, command_words(body))
    return None if found is None else (found[0].name, found[1])


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("body", ["!help", "！ヘルプ", "  ！ヘルプ  ", "!ヘルプ", "！ＨＥＬＰ"])
def test_full_width_and_half_width_help_are_recognised(body: str) -> None:
    assert is_command(body)
    assert find(builtin.commands, body) == ("help", [])


@pytest.mark.parametrize("body", ["help", "ヘルプ", "", "   ", "こんにちは !help"])
def test_plain_messages_are_not_commands(body: str) -> None:
    assert command_words(body) == []


def test_japanese_quotes_keep_words_together() -> None:
    assert tokenize("追加 「会議 資料 の 準備」 明日") == ["追加", "会議 資料 の 準備", "明日"]


def test_ascii_quotes_keep_words_together() -> None:
    assert tokenize('add "buy milk and eggs" tomorrow') == ["add", "buy milk and eggs", "tomorrow"]


def test_empty_quotes_are_an_empty_argument() -> None:
    assert tokenize('say "" now') == ["say", "", "now"]


def test_ideographic_space_separates_words() -> None:
    assert tokenize("タスク\u3000追加\u3000資料") == ["タスク", "追加", "資料"]
    assert command_words("！タスク\u3000追加\u3000「会議\u3000資料」") == [
        "タスク",
        "追加",
        "会議\u3000資料",
    ]


def test_runs_of_whitespace_do_not_make_empty_words() -> None:
    assert tokenize("  a \t b\u3000\u3000c  ") == ["a", "b", "c"]


# --------------------------------------------------------------------------- router


@pytest.mark.parametrize("add_first", [True, False])
def test_longest_multi_word_name_wins(add_first: bool) -> None:
    commands = task_commands(add_first=add_first)
    assert find(commands, "!task add buy milk") == ("task add", ["buy", "milk"])
    assert find(commands, "！タスク 追加 資料") == ("task add", ["資料"])
    assert find(commands, "!task list") == ("task", ["list"])
    assert find(commands, "!タスク") == ("task", [])


def test_english_names_are_case_insensitive() -> None:
    commands = task_commands(add_first=False)
    assert find(commands, "!TASK Add Buy Milk") == ("task add", ["Buy", "Milk"])
    assert find(builtin.commands, "!Ping") == ("ping", [])


def test_remaining_words_keep_their_case_and_width() -> None:
    commands = task_commands(add_first=True)
    assert find(commands, "!task add ＡＢＣ Xyz") == ("task add", ["ＡＢＣ", "Xyz"])


def test_unknown_command_is_not_found() -> None:
    assert find(task_commands(add_first=True), "!tasks") is None
    assert find(builtin.commands, "!helpme") is None


def test_usage_shows_japanese_alias_for_ja_and_english_name_for_en() -> None:
    catalog = Catalog.load()
    add = next(c for c in task_commands(add_first=True) if c.name == "task add")

    def t_ja(key: str) -> str:
        return catalog.t("ja", key)

    def t_en(key: str) -> str:
        return catalog.t("en", key)

    assert add.usage("ja", t_ja) == "!タスク 追加 <テキスト>"
    assert add.usage("en", t_en) == "!task add <text>"


def test_usage_marks_optional_arguments() -> None:
    cs = CommandSet("x")
    cs.command("give", help="help.help", args=(User("to"), Number("n", optional=True)))(_noop)
    assert cs.commands[0].usage("en", lambda k: Catalog.load().t("en", k)) == (
        "!give <user> [number]"
    )


# --------------------------------------------------------------------------- arguments


def test_number_accepts_full_width_digits() -> None:
    assert Number("count").take(["１２"], []) == 12
    assert Number("count").take(["34"], []) == 34


def test_number_rejects_words() -> None:
    with pytest.raises(UsageError) as info:
        Number("count").take(["twelve"], [])
    assert info.value.key == "error.bad_argument"
    assert info.value.params["argument"] == "count"


def test_user_takes_a_typed_user_id() -> None:
    words = ["@tanaka:city.example.jp", "rest"]
    assert User("who").take(words, ["@someone:else.example"]) == "@tanaka:city.example.jp"
    assert words == ["rest"]


def test_user_takes_the_first_mention_for_a_pill() -> None:
    words = ["田中", "rest"]
    mentions = ["@tanaka:city.example.jp", "@sato:city.example.jp"]
    assert User("who").take(words, mentions) == "@tanaka:city.example.jp"
    assert words == ["rest"]


def test_user_without_id_or_mention_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        User("who").take(["tanaka"], [])
    assert info.value.key == "error.bad_argument"
    with pytest.raises(UsageError) as missing:
        User("who").take([], [])
    assert missing.value.key == "error.missing_argument"


def test_parse_args_reads_typed_values() -> None:
    cs = CommandSet("x")
    cs.command(
        "give",
        help="help.help",
        args=(User("to"), Number("count"), Word("unit"), Rest("note", optional=True)),
    )(_noop)
    command = cs.commands[0]
    values = command.parse_args(["@sato:city.example.jp", "３", "箱", "会議室", "まで"], [])
    assert values == {
        "to": "@sato:city.example.jp",
        "count": 3,
        "unit": "箱",
        "note": "会議室 まで",
    }
    assert command.parse_args(["@sato:city.example.jp", "3", "box"], [])["note"] is None


def test_missing_argument_is_a_usage_error() -> None:
    cs = CommandSet("x")
    cs.command("give", help="help.help", args=(User("to"), Number("count")))(_noop)
    with pytest.raises(UsageError) as info:
        cs.commands[0].parse_args(["@sato:city.example.jp"], [])
    assert info.value.key == "error.missing_argument"
    assert info.value.params["argument"] == "count"


def test_extra_arguments_are_a_usage_error() -> None:
    cs = CommandSet("x")
    cs.command("give", help="help.help", args=(Number("count"),))(_noop)
    with pytest.raises(UsageError) as info:
        cs.commands[0].parse_args(["3", "and", "more"], [])
    assert info.value.key == "error.extra_arguments"
    assert info.value.params["extra"] == "and more"


def test_command_without_arguments_rejects_any() -> None:
    ping = next(c for c in builtin.commands if c.name == "ping")
    assert ping.parse_args([], []) == {}
    with pytest.raises(UsageError):
        ping.parse_args(["now"], [])


def test_command_text_turns_pills_back_into_user_ids() -> None:
    content = {
        "msgtype": "m.text",
        "body": "!task add 田中 太郎 書類",
        "format": "org.matrix.custom.html",
        "formatted_body": '!task add <a href="https://matrix.to/#/@tanaka:city.example.jp">'
        "田中 太郎</a> 書類 &amp; 印鑑",
    }
    assert command_text(content) == "!task add @tanaka:city.example.jp 書類 & 印鑑"


def test_command_text_drops_reply_fallbacks() -> None:
    html = {
        "body": "> <@a:x> hi\n\n!ping",
        "format": "org.matrix.custom.html",
        "formatted_body": "<mx-reply><blockquote>hi</blockquote></mx-reply>!ping",
    }
    assert command_text(html) == "!ping"
    assert command_text({"body": "> <@a:x> hi\n\n!ping"}) == "!ping"
    assert command_text({"body": "!ping"}) == "!ping"

"""Code from a model's reply: fenced blocks, prose around code, a repeated
prompt, a bare function body; or none at all.

:func:`extract_program` returns the program to run for a task (the prompt's
stub completed, or the model's whole solution with the prompt's imports) and
says which case applied; ``kind == "none"`` means there was no code.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from dataclasses import dataclass, replace
from typing import Any

from . import pyparse
from .sandbox.languages import PYTHON, UnknownLanguage, language
from .types import Task, TaskKind, fill_template

# End-of-turn markers chat templates leave in decoded text (OpenRLHF passes
# queries with them in; a sampler may too).
SPECIAL_TOKENS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "</s>", "<s>",
                  "<|end|>", "<end_of_turn>", "<start_of_turn>", "<|assistant|>", "<|user|>", "<|system|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<｜end▁of▁sentence｜>")
CODE_STARTS = ("def ", "async def ", "class ", "import ", "from ", "@", "#", "return ", "if ", "for ", "while ")


@dataclass(frozen=True)
class Extracted:
    """``kind``: "solution" (a whole program), "completion" (a body appended to
    the prompt) or "none"; ``program`` is what runs; ``code`` what the model wrote."""

    kind: str
    code: str
    program: str


def strip_special_tokens(text: str) -> str:
    """Drop chat-template markers and anything after an end-of-turn marker."""
    for end in ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end_of_text|>", "</s>", "<end_of_turn>", "<|end|>"):
        if end in text:
            text = text.split(end, 1)[0]
    for tok in SPECIAL_TOKENS:
        text = text.replace(tok, "")
    return text


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each ``` block; an unclosed last block runs to the end."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("```"):
            lang = stripped[3:].strip().lower()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append((lang, "\n".join(body) + "\n"))
        i += 1
    return blocks


def fenced_language(text: str) -> str | None:
    """The registered language of the first labelled fenced block of a reply
    (```cpp, ```c++, ```js ...), or None when there is none or its label is no language's."""
    for label, _ in fenced_blocks(strip_special_tokens(text)):
        if label:
            try:
                return language(label.split()[0]).name
            except UnknownLanguage:
                return None
    return None


def extract_source(reply: str, language_name: str) -> Extracted:
    """The program of a reply in a language other than Python: the first fenced
    block labelled with that language (or unlabelled), else the whole reply."""
    text = strip_special_tokens(reply)
    wanted = language(language_name)
    for label, body in fenced_blocks(text):
        name = label.split()[0] if label else ""
        try:
            matches = not name or language(name) is wanted
        except UnknownLanguage:
            matches = False
        if matches and has_code(body):
            return Extracted("solution", body, body)
    if not has_code(text) or "```" in text:
        return Extracted("none", "", "")
    return Extracted("solution", text, text)


def _parses(code: str) -> bool:
    try:
        pyparse.parse(code)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _defines(code: str, name: str) -> bool:
    """Whether ``code`` has a top-level ``def name`` (by tokens, so it works on code that does not parse)."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return any(line.startswith((f"def {name}(", f"async def {name}(")) for line in code.splitlines())
    for a, b, c in zip(toks, toks[1:], toks[2:]):
        if a.type == tokenize.NAME and a.string == "def" and a.start[1] == 0 and b.string == name and c.string == "(":
            return True
    return False


def _code_region(text: str, entry_point: str) -> str:
    """From unfenced prose around code: the lines from the first code-looking
    line (imports, the entry point's def) through the last code line."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(("def ", "async def ", "import ", "from ",
                                                                          "class ", "@"))), None)
    if start is None:
        return text
    end = start
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.strip() or line[0] in " \t" or line.startswith(CODE_STARTS):
            end = i
        elif not _parses("\n".join(lines[start:i + 1]) + "\n"):
            break  # prose after the code
        else:
            end = i
    return "\n".join(lines[start:end + 1]).rstrip() + "\n"


def _prompt_imports(prompt: str) -> str:
    try:
        tree = pyparse.parse(prompt)
    except SyntaxError:
        return ""
    return "".join((ast.get_source_segment(prompt, n) or "") + "\n" for n in tree.body
                   if isinstance(n, (ast.Import, ast.ImportFrom)))


def _has_stub(prompt: str) -> bool:
    """Whether ``prompt`` has a function or class for a reply to complete (True when it does not parse)."""
    try:
        tree = pyparse.parse(prompt)
    except SyntaxError:
        return True
    return any(not isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr)) for n in tree.body)


def has_code(text: str) -> bool:
    """Anything but blank lines and comments (by tokens)."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and stripped != "\\":
            return True  # a token that is not a comment begins this line
    ignorable = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                 tokenize.ENDMARKER, tokenize.ENCODING}
    try:
        return any(t.type not in ignorable for t in tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return bool(text.strip())


def extract_program(reply: str, prompt: str = "", entry_point: str = "") -> Extracted:
    """The program to run for a model's ``reply`` to a task with ``prompt``
    (a stub the reply may complete) and ``entry_point``.

    Order: strip chat markers; take the fenced block that defines the entry
    point (else the first python or unlabelled one); else the code region of
    the prose; a reply that repeats the prompt or defines the entry point is a
    whole solution (the prompt's imports are put in front); an indented reply
    completes the prompt; an unindented body is indented under the prompt's
    signature. Nothing code-like: kind "none".
    """
    text = strip_special_tokens(reply)
    blocks = [b for lang, b in fenced_blocks(text) if lang in ("", "python", "py", "python3")]
    if blocks:
        code = next((b for b in blocks if entry_point and _defines(b, entry_point)), blocks[0])
    elif prompt and text.startswith(prompt):
        code = text
    else:
        code = text if (_indented(text) or _parses(text)) else _code_region(text, entry_point)
    completes_prompt = bool(prompt) and _indented(code) and _parses(prompt + code)
    if not has_code(code) or (not blocks and not completes_prompt and not _parses(code)
                              and not _looks_like_code(code)):
        return Extracted("none", "", "")
    if prompt and code.startswith(prompt):
        return Extracted("solution", code, code)
    if (entry_point and _defines(code, entry_point)) or (prompt and not _has_stub(prompt) and not _indented(code)):
        # a whole solution: a prompt of imports only has nothing to complete (a call-based dataset task's)
        return Extracted("solution", code, _prompt_imports(prompt) + code)
    if not prompt:
        return Extracted("solution", code, code)
    if not _indented(code):
        code = "".join("    " + line if line.strip() else line for line in code.splitlines(True))
    return Extracted("completion", code, prompt + code)


def _indented(code: str) -> bool:
    """Whether the first line with anything on it is indented (a body completing a stub)."""
    first = next((line for line in code.splitlines() if line.strip()), "")
    return first[:1] in " \t"


def _looks_like_code(code: str) -> bool:
    first = next((line.strip() for line in code.splitlines() if line.strip()), "")
    return first.startswith(CODE_STARTS) or first.startswith(("return", "pass", "raise"))


def code_prompt(task: Task) -> str:
    """The part of ``task``'s prompt that a completion continues: the prompt, except
    for a stdin task whose prompt is its statement in prose (nothing to continue)."""
    return task.prompt if task.kind is not TaskKind.STDIO or _parses(task.prompt) else ""


def extract_for_task(task: Task, reply: str) -> tuple[Task, Extracted]:
    """The program of ``reply`` to ``task`` and the task to judge it as. A
    stdin task takes the program in the language the reply's fence names
    (a C++ reply to a task given in Python is judged as C++, as CodeContests'
    and open-r1's rewards take either); otherwise the task's own language."""
    if task.template is not None:
        return task, _into_template(task.template, reply)
    fence = fenced_language(reply) if task.kind is TaskKind.STDIO else None
    if fence is not None and fence != task.language:
        task = replace(task, language=fence)
    if task.language == PYTHON:
        return task, extract_program(reply, code_prompt(task), task.entry_point)
    return task, extract_source(reply, task.language)


def _into_template(template: str, reply: str) -> Extracted:
    """A reply's code put at the task's ``[insert]``: what :func:`extract_source` takes for Python (the
    first Python or unlabelled fenced block with code; a reply with fences but none of those has no code),
    else, in a reply without fences, the code in DS-1000's ``<code>...</code>`` tags, else the whole reply."""
    text = strip_special_tokens(reply)
    tagged = re.search(r"<code>\n?(.*?)</code>", text, re.S) if "```" not in text else None
    found = extract_source(tagged.group(1) if tagged else text, PYTHON)
    if found.kind == "none":
        return found
    return Extracted("solution", found.code, fill_template(template, found.code))


def reply_text(completion: Any) -> str:
    """A model's reply as text: TRL gives a string, or for chat data a list of
    messages whose assistant content is the reply."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        parts = [m.get("content", "") for m in completion
                 if isinstance(m, dict) and m.get("role", "assistant") == "assistant"]
        return "\n".join(p if isinstance(p, str) else json.dumps(p) for p in parts)
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    return str(completion)


def response_of(query: str, prompt: str) -> str:
    """The model's response inside an OpenRLHF query (the prompt followed by
    the response, chat template and special tokens left in)."""
    if prompt and query.startswith(prompt):
        return strip_special_tokens(query[len(prompt):])
    cleaned_prompt = strip_special_tokens(prompt).strip()
    cleaned = strip_special_tokens(query)
    if cleaned_prompt and cleaned_prompt in cleaned:
        return cleaned.split(cleaned_prompt, 1)[1]
    return cleaned

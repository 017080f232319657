"""Programs in other languages: compiled once in the sandbox, run on every test (issue 11).

Only the languages whose toolchain this machine has are judged (``.ci/run``
installs them); the registry itself is tested everywhere.
"""

from __future__ import annotations

import shutil

import pytest

from codeloop.sandbox.languages import LANGUAGES, UnknownLanguage, language, toolchain_version
from codeloop.types import CompileError, Crashed, IOCase, Status, Task, TaskKind
from lang_programs import COMPILE_ERROR_LINE, EXPECTED, PROGRAMS, RUNTIME_MESSAGE, RUNTIME_STATUS


def needs(tool: str):
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} is not installed")


def sums(lang: str, **kw) -> Task:
    return Task(task_id=f"sum-{lang}", kind=TaskKind.STDIO, language=lang, time_limit_per_test=1.0,
                cases=(IOCase("2 3\n", "5\n"), IOCase("10 -4\n", "6\n"), IOCase("7 7\n", "14\n")), **kw)


CPP_SUM = "#include <bits/stdc++.h>\nusing namespace std;\nint main() { long long a, b; cin >> a >> b; cout << a + b << endl; }\n"
C_SUM = "#include <stdio.h>\nint main(void) { long a, b; scanf(\"%ld %ld\", &a, &b); printf(\"%ld\\n\", a + b); return 0; }\n"
JS_SUM = "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\nconsole.log(a + b);\n"
BASH_SUM = "read a b\necho $((a + b))\n"


def test_the_registry_knows_the_names_people_use():
    assert language("C++").name == "cpp" and language("nodejs").name == "javascript" and language("sh").name == "bash"
    assert language("python3").name == "python"
    with pytest.raises(UnknownLanguage, match="known: bash, c, cpp, go, java, javascript, python, rust, typescript"):
        language("cobol")
    assert language("golang").name == "go" and language("rs").name == "rust" and language("ts").name == "typescript"
    assert set(LANGUAGES) >= {"python", "cpp", "c", "java", "javascript", "typescript", "rust", "go", "bash"}
    assert toolchain_version(language("bash")).startswith("GNU bash")


@pytest.mark.parametrize("lang, program", [
    pytest.param("cpp", CPP_SUM, marks=needs("g++")), pytest.param("c", C_SUM, marks=needs("gcc")),
    pytest.param("javascript", JS_SUM, marks=needs("node")), pytest.param("bash", BASH_SUM, marks=needs("bash"))])
def test_a_right_program_passes_every_case(judge, lang, program):
    v = judge.judge(sums(lang), program)
    assert v.passed, v.failure
    assert [c.status.value for c in v.case_results] == ["passed"] * 3


def usable(lang: str):
    from codeloop.sandbox.languages import availability

    ok, why = availability(language(lang))
    return pytest.mark.skipif(not ok, reason=why)


@pytest.mark.parametrize("lang", [pytest.param(name, marks=usable(name)) for name in PROGRAMS])
@pytest.mark.parametrize("outcome", list(EXPECTED))
def test_every_language_gets_every_verdict(judge, lang, outcome):
    """Accepted, wrong, too slow, crashing, not compiling and too big, in each language, under a 128 MiB limit."""
    task = sums(lang, memory_limit=128)
    v = judge.judge(task, PROGRAMS[lang][outcome])
    expected = RUNTIME_STATUS.get(lang, "error") if outcome == "runtime_error" else EXPECTED[outcome]
    assert v.status.value == expected, v.failure
    if outcome == "compile_error":
        assert isinstance(v.failure, CompileError) and v.failure.line == COMPILE_ERROR_LINE, v.failure
        assert "/program/" not in v.failure.message and v.failure.message.strip()
    elif outcome == "runtime_error":
        said = v.failure.signal if isinstance(v.failure, Crashed) else v.failure.exception.traceback
        assert RUNTIME_MESSAGE[lang] in said, v.failure
        if lang in ("java", "rust", "go", "javascript", "typescript"):  # the runtime's report, read
            assert v.failure.exception.message in ("/ by zero", "bad input"), v.failure
    elif outcome in ("accepted", "wrong"):
        assert len(v.case_results) == 3


def test_java_is_named_after_its_public_class_and_starts_where_main_is():
    from codeloop.sandbox.languages import java_layout

    assert java_layout("public class Main { static class A {} public static void main(String[] a) {} }") == {
        "source": "Main.java", "main": "Main"}
    text = ('// public class Decoy {}\nimport java.util.*;\nclass Helper { String s = "class X {"; }\n'
            'class Solution {\n  static class Inner {}\n  public static void main(String[] args) {}\n}\n')
    assert java_layout(text) == {"source": "Main.java", "main": "Solution"}
    assert java_layout("public final class Codeforces { public static void main(String[] a) {} }") == {
        "source": "Codeforces.java", "main": "Codeforces"}


@needs("g++")
def test_compile_error_names_the_programs_line(judge):
    v = judge.judge(sums("cpp"), "#include <cstdio>\nint main() {\n  undeclared_thing(1);\n}\n")
    assert v.status is Status.SYNTAX_ERROR and isinstance(v.failure, CompileError)
    assert v.failure.line == 3 and "undeclared_thing" in v.failure.message and "main.cpp:3" in v.failure.message
    assert "/program/" not in v.failure.message  # the sandbox's folder is not the program's business


@needs("g++")
def test_wrong_crashing_and_slow_programs_in_cpp(judge):
    wrong = CPP_SUM.replace("a + b", "a + b + (a > 5)")
    v = judge.judge(sums("cpp"), wrong)
    assert v.status is Status.FAILED and v.test_results == (True, False, False) and v.failure.case == 1
    segv = "#include <cstdio>\nint main() { volatile int *p = nullptr; *p = 1; }\n"
    v = judge.judge(sums("cpp"), segv)
    assert v.status is Status.KILLED and isinstance(v.failure, Crashed) and v.failure.signal == "SIGSEGV"
    spin = "int main() { volatile unsigned long x = 0; for (;;) x++; }\n"
    v = judge.judge(sums("cpp", stop_on_failure=True), spin)
    assert v.status is Status.TIMEOUT and [c.status.value for c in v.case_results] == ["timeout"]
    exits = "#include <cstdlib>\nint main() { return 3; }\n"
    assert judge.judge(sums("cpp"), exits).status is Status.ERROR


@needs("g++")
def test_the_compiler_itself_is_bounded(judge):
    # the compiler reading an endless file: its time limit, not the host's
    v = judge.judge(sums("cpp"), '#include "/dev/zero"\nint main() {}\n')
    assert v.status is Status.SYNTAX_ERROR, v.failure


def test_a_task_file_names_an_unknown_language_and_a_language_without_cases(tmp_path):
    from codeloop.jsonl import InputError
    from codeloop.tasks.jsonl import load_task_file

    path = tmp_path / "t.jsonl"
    path.write_text('{"task_id": "a", "cases": [{"input": "", "output": ""}], "language": "cobol"}\n')
    with pytest.raises(InputError, match=r"t.jsonl:1.*language.*unknown language 'cobol'"):
        load_task_file(str(path))
    path.write_text('{"task_id": "a", "asserts": ["assert f() == 1"], "entry_point": "f", "language": "cpp"}\n')
    with pytest.raises(InputError, match="stdin/stdout 'cases' only"):
        load_task_file(str(path))
    path.write_text('{"task_id": "a", "cases": [{"input": "", "output": ""}], "language": "C++"}\n')
    assert load_task_file(str(path))["a"].language == "cpp"


@needs("g++")
def test_a_reply_in_cpp_to_a_codecontests_row_is_judged_as_cpp():
    """CodeContests takes Python or C++: the reply's fence says which (verl's compute_score, unchanged)."""
    from codeloop.integrations.verl import compute_score
    from codeloop.scoring.local import LocalScorer

    truth = {"inputs": ["2 3\n", "10 -4\n"], "outputs": ["5\n", "6\n"]}
    scorer = LocalScorer({}, workers=1)
    try:
        cpp = compute_score("codecontests", f"Here it is:\n```cpp\n{CPP_SUM}```\n", truth, None, scorer=scorer)
        py = compute_score("codecontests", "```python\na, b = map(int, input().split())\nprint(a + b)\n```", truth,
                           None, scorer=scorer)
        bad = compute_score("codecontests", "```c++\nint main() { return }\n```", truth, None, scorer=scorer)
    finally:
        scorer.close()
    assert cpp["acc"] == 1.0 and py["acc"] == 1.0 and cpp["infra_error"] == 0.0
    assert bad["acc"] == 0.0 and bad["syntax_error"] == 1.0


def test_the_program_of_a_reply_in_another_language():
    from codeloop.extract import extract_source, fenced_language

    reply = "Idea first.\n```js\nconsole.log(1)\n```\nand\n```cpp\nint main() {}\n```\n"
    assert fenced_language(reply) == "javascript"
    assert extract_source(reply, "cpp").program == "int main() {}\n"
    assert extract_source("echo hi\n", "bash").program == "echo hi\n"
    assert extract_source("```python\nprint(1)\n```", "cpp").kind == "none"
    assert fenced_language("```text\nhello\n```") is None


def test_a_missing_toolchain_is_an_evaluator_failure_naming_the_package(judge, monkeypatch):
    from codeloop.sandbox import languages
    from codeloop.verify.engine import Judge

    fake = languages.Language("fortran", ("f90",), "main.f90", ("gfortran-not-here", "{src}"), ("{exe}",),
                              ("gfortran-not-here", "--version"), "gfortran")
    monkeypatch.setitem(languages.LANGUAGES, "fortran", fake)
    monkeypatch.setitem(languages._BY_NAME, "fortran", fake)
    j = Judge(judge.pool)
    try:
        v = j.judge(sums("fortran"), "program x\nend program x\n")
    finally:
        j.close()
    assert v.status is Status.INFRA_ERROR and "apt-get install gfortran" in v.failure.message


@needs("g++")
def test_the_same_source_compiles_once_and_a_different_one_again(pool):
    from codeloop.verify.engine import Judge

    j = Judge(pool)
    try:
        first = j.judge(sums("cpp"), CPP_SUM)
        again = j.judge_many([(sums("cpp"), CPP_SUM)] * 3)
        other = j.judge(sums("cpp"), CPP_SUM.replace("endl", "'\\n'"))
    finally:
        j.close()
    assert first.passed and all(v.passed for v in again) and other.passed
    assert len(j.compiled) == 2 and j.compiled.hits >= 3  # the three copies were handed the first one's program


@needs("g++")
def test_copies_submitted_together_compile_once_even_when_the_compile_fails(pool):
    from codeloop.verify.engine import Judge

    j = Judge(pool)
    try:
        program = CPP_SUM + "// a batch\n"
        verdicts = j.judge_many([(sums("cpp"), program)] * 6 + [(sums("cpp"), "int main() { return }\n")] * 3)
        compiles = j.compile_jobs
    finally:
        j.close()
    assert [v.status.value for v in verdicts] == ["passed"] * 6 + ["syntax_error"] * 3
    assert verdicts[-1].failure == verdicts[-3].failure and verdicts[-1].failure.line == 1
    assert len(j.compiled) == 1  # one program kept; the compile error is each copy's verdict, compiled once
    assert compiles == 2  # each source compiled once, before its copies ran


@needs("g++")
def test_the_precompiled_header_is_valid_for_the_compile_options(tmp_path):
    import subprocess

    from codeloop.sandbox.headers import precompiled

    cpp = language("cpp")
    folder = precompiled(cpp, toolchain_version(cpp))
    assert folder is not None
    src = tmp_path / "main.cpp"
    src.write_text(CPP_SUM)
    argv = cpp.argv(cpp.compile, str(tmp_path))
    argv[1:1] = ["-I", folder, "-H", "-fsyntax-only"]
    done = subprocess.run([a for a in argv if a not in ("-o", str(tmp_path / "program"))], capture_output=True,
                          text=True)
    assert done.returncode == 0 and f"! {folder}/bits/stdc++.h.gch" in done.stderr  # "!": GCC used it


# -- hostile programs in each language, inside the sandbox, the whole run inside a PID and network namespace guard --

C_PRELUDE = ("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <signal.h>\n#include <unistd.h>\n"
             "#include <fcntl.h>\n#include <sys/socket.h>\n#include <netinet/in.h>\n#include <arpa/inet.h>\n"
             "int main(void) {\n")
ANY_END = {"timeout", "killed", "failed", "error", "memory_limit", "output_limit"}
WRONG = {"failed", "error"}
# Per language: (expected statuses, program) by attack; every hostile one answers wrongly, so "passed" would be
# a cheat; "legit" doubles its input and must pass. {pwn}, {port} and {secret_name} are filled in by the test.
HOSTILE = {
    "c": (C_PRELUDE, "}\n", {
        "fork_without_end": (ANY_END, "for (;;) fork(); return 0;"),
        "kill_every_process": (ANY_END, "kill(-1, SIGKILL); return 0;"),
        "fill_memory": (ANY_END, "for (;;) { char *p = malloc(1 << 24); if (!p) return 3; memset(p, 1, 1 << 24); }"),
        "write_outside": (WRONG, 'FILE *f = fopen("{pwn}", "w"); if (f) { fputs("x", f); fclose(f); }\n'
                                 'f = fopen("/tmp/codeloop_pwned_lang", "w"); if (f) { fputs("x", f); fclose(f); }'),
        "reach_the_network": (WRONG, "int s = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0};"
                                     " a.sin_family = AF_INET; a.sin_port = htons({port});"
                                     " a.sin_addr.s_addr = inet_addr(\"127.0.0.1\");"
                                     " if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) puts(\"connected\");"),
        "read_the_secret": ({"failed"}, 'const char *s = getenv("{secret_name}"); puts(s ? s : "none"); return 0;'),
        "print_without_end": ({"output_limit"}, "for (;;) puts(\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\");"),
        "legit": ({"passed"}, "int n; scanf(\"%d\", &n); printf(\"%d\\n\", 2 * n); return 0;"),
    }),
    "bash": ("", "", {
        "fork_without_end": (ANY_END, "f() { f | f & }; f"),
        "kill_every_process": (ANY_END, "kill -9 -1"),
        "fill_memory": (ANY_END, "x=aaaaaaaa; while true; do x=$x$x; done"),
        "write_outside": (WRONG, "echo x > {pwn}; echo x > /tmp/codeloop_pwned_lang"),
        "reach_the_network": (WRONG, "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"),
        "read_the_secret": ({"failed"}, 'echo "${{secret_name}:-none}"'),
        "print_without_end": ({"output_limit"}, "yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        "legit": ({"passed"}, "read n; echo $((2 * n))"),
    }),
    "javascript": ("const fs = require('fs');\n", "", {
        "fork_without_end": (ANY_END, "const {spawn} = require('child_process');\n"
                                      "for (;;) { try { spawn(process.execPath, ['-e', 'for(;;){}']); } catch (e) {} }"),
        "kill_every_process": (ANY_END, "try { process.kill(-1, 'SIGKILL'); } catch (e) {}"),
        "fill_memory": (ANY_END, "const a = []; for (;;) a.push(Buffer.alloc(1 << 24, 1));"),
        "write_outside": (WRONG, "for (const p of ['{pwn}', '/tmp/codeloop_pwned_lang']) "
                                 "{ try { fs.writeFileSync(p, 'x'); } catch (e) {} }"),
        "reach_the_network": (WRONG, "const s = require('net').connect({port}, '127.0.0.1', () => "
                                     "{ console.log('connected'); s.end(); }); s.on('error', () => {});"),
        "read_the_secret": ({"failed"}, "console.log(process.env['{secret_name}'] || 'none');"),
        "print_without_end": ({"output_limit"}, "for (;;) fs.writeSync(1, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\\n');"),
        "legit": ({"passed"}, "console.log(2 * parseInt(fs.readFileSync(0, 'utf8')));"),
    }),
    # a compiled language with a runtime of its own (threads, its own allocator); each program brings its imports,
    # since Go refuses an unused one
    "go": ("package main\n\n", "", {
        "fork_without_end": (ANY_END, 'import "syscall"\nfunc main() { for { syscall.ForkExec("/proc/self/exe", nil,'
                                      ' &syscall.ProcAttr{}) } }'),
        "kill_every_process": (ANY_END, 'import "syscall"\nfunc main() { syscall.Kill(-1, syscall.SIGKILL) }'),
        "fill_memory": (ANY_END, "var kept [][]byte\nfunc main() { for { b := make([]byte, 1<<24)\n"
                                 "  for i := range b { b[i] = 1 }\n  kept = append(kept, b) } }"),
        "write_outside": (WRONG, 'import "os"\nfunc main() { os.WriteFile("{pwn}", []byte("x"), 0o644)\n'
                                 '  os.WriteFile("/tmp/codeloop_pwned_lang", []byte("x"), 0o644) }'),
        "reach_the_network": (WRONG, 'import ("fmt"; "net")\nfunc main() { if c, err := net.Dial("tcp", '
                                     '"127.0.0.1:{port}"); err == nil { fmt.Println("connected"); c.Close() } }'),
        "read_the_secret": ({"failed"}, 'import ("fmt"; "os")\nfunc main() { s := os.Getenv("{secret_name}")\n'
                                        '  if s == "" { s = "none" }\n  fmt.Println(s) }'),
        "print_without_end": ({"output_limit"}, 'import "fmt"\nfunc main() { for { fmt.Println("xxxxxxxxxxxxxxxxxxxx") } }'),
        "legit": ({"passed"}, 'import "fmt"\nfunc main() { var n int; fmt.Scan(&n); fmt.Println(2 * n) }'),
    }),
}
TOOL = {"c": "gcc", "bash": "bash", "javascript": "node", "go": "go"}


@pytest.mark.sandbox
@pytest.mark.parametrize("lang", list(HOSTILE))
def test_hostile_programs_are_contained(tmp_path, lang):
    import os
    import secrets

    from conftest import CODELOOP, read_jsonl, run_with_traps, write_jsonl

    if shutil.which(TOOL[lang]) is None:
        pytest.skip(f"{TOOL[lang]} is not installed")
    port, secret_name, secret = 47933, "CODELOOP_TEST_SECRET", "s3cret-" + secrets.token_hex(8)
    pwn = tmp_path / "pwned"
    head, tail, attacks = HOSTILE[lang]
    task = {"task_id": "t", "language": lang, "time_limit_per_test": 1.0,
            "cases": [{"input": "1\n", "output": "2\n"}, {"input": "2\n", "output": "4\n"}]}
    names = list(attacks)
    programs = [head + attacks[n][1].replace("{pwn}", str(pwn)).replace("{port}", str(port)).replace(
        "{secret_name}", secret_name) + "\n" + tail for n in names]
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "t", "completion": p} for p in programs])
    tasks = write_jsonl(tmp_path / "tasks.jsonl", [task])
    out = tmp_path / "results.jsonl"
    command = [CODELOOP, "eval", "--tasks", str(tasks), "--samples", str(samples), "--out", str(out), "-q",
               "--workers", "2"]
    report = run_with_traps(tmp_path, command, port, secret_name, secret)
    assert report["rc"] == 0, report["stderr"]
    got = {n: r["status"] for n, r in zip(names, read_jsonl(out))}
    assert {n: s for n, s in got.items() if s not in attacks[n][0]} == {}, got
    assert not report["listener_hit"] and report["processes_left"] == 0 and not report["secret_printed"]
    assert secret not in out.read_text()
    assert not pwn.exists() and not os.path.exists("/tmp/codeloop_pwned_lang")

"""One program per language and per outcome, for the task "print the sum of two integers".

Each language gets: ``accepted``, ``wrong`` (off by one on some tests),
``timeout`` (never ends), ``runtime_error`` (its runtime's own failure: an
exception, a panic, a signal), ``compile_error`` (a syntax or type error on a
known line: ``COMPILE_ERROR_LINE``) and ``memory_limit`` (allocates far past a
128 MiB limit, the way a program in that language does it). ``EXPECTED``
holds the status each should get; ``RUNTIME_MESSAGE`` what the runtime's
report must say.
"""

from __future__ import annotations

COMPILE_ERROR_LINE = 2

PROGRAMS: dict[str, dict[str, str]] = {
    "python": {
        "accepted": "a, b = map(int, input().split())\nprint(a + b)\n",
        "wrong": "a, b = map(int, input().split())\nprint(a + b + (a > 5))\n",
        "timeout": "while True:\n    pass\n",
        "runtime_error": "raise ValueError('bad input')\n",
        "compile_error": "a, b = 1, 2\nprint(a +)\n",
        "memory_limit": "x = bytearray(1 << 30)\nprint(len(x))\n",
    },
    "cpp": {
        "accepted": "#include <bits/stdc++.h>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b; }\n",
        "wrong": "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b + (a > 5); }\n",
        "timeout": "int main() { volatile unsigned long x = 0; for (;;) x++; }\n",
        "runtime_error": "#include <cstdio>\nint main() { volatile int *p = nullptr; *p = 1; }\n",
        "compile_error": "int main() {\n  undeclared_thing(1);\n}\n",
        "memory_limit": "#include <vector>\n#include <cstdio>\n"
                        "int main() { std::vector<long long> v(1LL << 28, 1); std::printf(\"%lld\", v[7]); }\n",
    },
    "c": {
        "accepted": "#include <stdio.h>\nint main(void) { long a, b; scanf(\"%ld %ld\", &a, &b); printf(\"%ld\\n\", a + b); }\n",
        "wrong": "#include <stdio.h>\nint main(void) { long a, b; scanf(\"%ld %ld\", &a, &b); printf(\"%ld\\n\", a + b + (a > 5)); }\n",
        "timeout": "int main(void) { volatile unsigned long x = 0; for (;;) x++; }\n",
        "runtime_error": "#include <stdio.h>\nint main(void) { volatile int a = 7, z = 0; printf(\"%d\\n\", a / z); }\n",
        "compile_error": "int main(void) {\n  return undeclared_thing;\n}\n",
        # allocates and touches 1 MiB at a time and never checks for NULL, as a contest program does
        "memory_limit": "#include <stdlib.h>\n#include <string.h>\n"
                        "int main(void) { for (;;) memset(malloc(1 << 20), 1, 1 << 20); }\n",
    },
    "java": {
        "accepted": "import java.util.*;\n\npublic class Main {\n  static class Helper {}\n"
                    "  public static void main(String[] args) { Scanner s = new Scanner(System.in);\n"
                    "    long a = s.nextLong(), b = s.nextLong(); System.out.println(a + b); }\n}\n",
        "wrong": "import java.util.*;\nclass Solution {\n  public static void main(String[] args) {\n"
                 "    Scanner s = new Scanner(System.in); long a = s.nextLong(), b = s.nextLong();\n"
                 "    System.out.println(a + b + (a > 5 ? 1 : 0)); }\n}\n",
        "timeout": "public class Spin {\n  public static void main(String[] args) { long x = 0; while (true) x++; }\n}\n",
        "runtime_error": "public class Main {\n  public static void main(String[] args) {\n    int z = args.length;\n"
                         "    System.out.println(1 / z); }\n}\n",
        "compile_error": "public class Main {\n  public static void main(String[] args) { int x = \"text\"; }\n}\n",
        "memory_limit": "public class Main {\n  public static void main(String[] args) {\n"
                        "    long[] a = new long[200_000_000]; System.out.println(a[7]); }\n}\n",
    },
    "rust": {
        "accepted": "use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s)"
                    ".unwrap();\n  let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n"
                    "  println!(\"{}\", v[0] + v[1]); }\n",
        "wrong": "use std::io::Read;\nfn main() { let mut s = String::new(); std::io::stdin().read_to_string(&mut s)"
                 ".unwrap();\n  let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n"
                 "  println!(\"{}\", v[0] + v[1] + (v[0] > 5) as i64); }\n",
        "timeout": "fn main() { let mut x: u64 = 1; loop { x = x.wrapping_mul(3); if x == 0 { println!(\"{}\", x); } } }\n",
        "runtime_error": "fn main() {\n  panic!(\"bad input\");\n}\n",
        "compile_error": "fn main() {\n  let x: i32 = \"text\";\n}\n",
        "memory_limit": "fn main() { let v = vec![1u8; 1 << 30]; println!(\"{}\", v[12345]); }\n",
    },
    "go": {
        "accepted": "package main\n\nimport \"fmt\"\n\nfunc main() { var a, b int64; fmt.Scan(&a, &b); fmt.Println(a + b) }\n",
        "wrong": "package main\n\nimport \"fmt\"\n\nfunc main() {\n  var a, b int64; fmt.Scan(&a, &b)\n"
                 "  if a > 5 { b++ }\n  fmt.Println(a + b)\n}\n",
        "timeout": "package main\n\nfunc main() { x := 0; for { x++ } }\n",
        "runtime_error": "package main\n\nfunc main() { panic(\"bad input\") }\n",
        "compile_error": "package main\nfunc main() { var x int = \"text\" }\n",
        "memory_limit": "package main\n\nimport \"fmt\"\n\nfunc main() { b := make([]byte, 1<<30)\n"
                        "  for i := range b { b[i] = 1 }\n  fmt.Println(b[7]) }\n",
    },
    "javascript": {
        "accepted": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
                    "console.log(a + b);\n",
        "wrong": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
                 "console.log(a + b + (a > 5 ? 1 : 0));\n",
        "timeout": "for (;;) {}\n",
        "runtime_error": "throw new Error('bad input');\n",
        "compile_error": "const a = 1;\nconst b = ;\n",
        "memory_limit": "const a = [];\nfor (;;) a.push(new Array(1e6).fill(1.5));\n",
    },
    "typescript": {
        "accepted": "const v: number[] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
                    "console.log(v[0] + v[1]);\n",
        "wrong": "const v: number[] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
                 "console.log(v[0] + v[1] + (v[0] > 5 ? 1 : 0));\n",
        "timeout": "let x: number = 0;\nfor (;;) { x++; }\n",
        "runtime_error": "const x: string = 'bad input';\nthrow new Error(x);\n",
        "compile_error": "const a: number = 1;\nconst b: number = ;\n",
        "memory_limit": "const a: number[][] = [];\nfor (;;) a.push(new Array(1e6).fill(1.5));\n",
    },
    "bash": {
        "accepted": "read a b\necho $((a + b))\n",
        "wrong": "read a b\nif ((a > 5)); then echo $((a + b + 1)); else echo $((a + b)); fi\n",
        "timeout": "while :; do :; done\n",
        "runtime_error": "echo 'bad input' >&2\nexit 3\n",
        "compile_error": "read a b\nif then fi\n",
        "memory_limit": "x=aaaaaaaaaaaaaaaa\nwhile :; do x=$x$x; done\n",
    },
}

EXPECTED = {"accepted": "passed", "wrong": "failed", "timeout": "timeout", "runtime_error": "error",
            "compile_error": "syntax_error", "memory_limit": "memory_limit"}
# A C or C++ program's runtime error is a signal (SIGSEGV, SIGFPE): "killed", with the signal's name.
RUNTIME_STATUS = {"cpp": "killed", "c": "killed"}
RUNTIME_MESSAGE = {"python": "ValueError", "cpp": "SIGSEGV", "c": "SIGFPE", "java": "java.lang.ArithmeticException",
                   "rust": "bad input", "go": "panic: bad input", "javascript": "bad input",
                   "typescript": "bad input", "bash": "bad input"}

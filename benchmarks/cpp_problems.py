"""Eight C++ stdin/stdout problems written for cpp_speed.py, each with five solutions of known outcome.

Used by cpp_speed.py; not a benchmark itself. Nothing here comes from a data set: the problems,
the generators, the Python references and the C++ solutions were written for this benchmark.

A problem has an input generator (``make_input(rng, size)``, size "small", "medium" or "large"),
a reference in Python that gives the expected output of an input, and five C++ solutions:

- ``accepted``: correct and fast, contest style (``#include <bits/stdc++.h>``, fast I/O);
- ``wrong``: a subtle bug (an int that overflows, an off-by-one, a missing line of output, a
  wrong initial value, a check that ignores the kind of bracket, ``upper_bound`` for ``lower_bound``);
- ``slow``: correct, but quadratic (or worse) where the accepted one is not: it passes the small
  and medium tests and runs far past a 1 s limit on the large ones;
- ``crash``: dies on a signal: a null or near-null write or read (SIGSEGV, or SIGILL where gcc
  turns a provable null access into a trap), an uncaught exception (SIGABRT), an integer
  division by zero (SIGFPE), a recursion that never ends (SIGSEGV on the stack guard);
- ``noncompiling``: a typo (a missing semicolon, an undeclared name, a missing brace, ...).

Only the accepted solution is written out; each other one is ``variant(accepted, (old, new), ...)``,
the accepted program with a few edits, so that its bug is the edit.

Tests: with ``tests`` = 15, tests 0-2 are small, 3-11 medium and 12-14 large (the last fifth of
the tests, at least one, are large; the first fifth small). Inputs come from ``random.Random``
seeded with (seed, problem, test), so the same arguments give the same set.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass, field

KINDS = ("accepted", "wrong", "slow", "crash", "noncompiling")
EXPECTED_PASS = {"accepted": True, "wrong": False, "slow": False, "crash": False, "noncompiling": False}


@dataclass(frozen=True)
class Problem:
    name: str
    statement: str
    make_input: Callable[[random.Random, str], str]
    reference: Callable[[str], str]
    solutions: dict[str, str]
    bugs: dict[str, str] = field(default_factory=dict)  # what is wrong with each non-accepted solution


def sizes(tests: int) -> list[str]:
    big = max(1, tests // 5)
    small = max(1, tests // 5) if tests >= 3 else 0
    return ["small"] * small + ["medium"] * (tests - small - big) + ["large"] * big


def _ints(rng: random.Random, n: int, lo: int, hi: int) -> list[int]:
    return [rng.randint(lo, hi) for _ in range(n)]


def _line(values) -> str:
    return " ".join(map(str, values))


def variant(accepted: str, *edits: tuple[str, str]) -> str:
    """``accepted`` with each ``(old, new)`` edit applied in turn; ``old`` must occur exactly once."""
    program = accepted
    for old, new in edits:
        count = program.count(old)
        if count != 1:
            raise ValueError(f"{old!r} occurs {count} times, not once")
        program = program.replace(old, new)
    return program


# -- 1. range sums --------------------------------------------------------------------------------

def range_sums_input(rng: random.Random, size: str) -> str:
    n, q, bound = {"small": (rng.randint(1, 10), rng.randint(1, 10), 100),
                   "medium": (rng.randint(200, 2000), rng.randint(200, 2000), 10**9),
                   "large": (200_000, 50_000, 10**9)}[size]
    a = _ints(rng, n, -bound, bound)
    if size != "small":  # a run of large values: sums past 2^31 in every medium and large test
        start = rng.randint(0, n - 3)
        a[start:start + 3] = [bound] * 3
    lines = [f"{n} {q}", _line(a)]
    for _ in range(q):
        if size == "large" and rng.random() < 0.7:  # long ranges, against a loop over each range
            lo, hi = rng.randint(1, n // 10), rng.randint(n - n // 10, n)
        else:
            lo, hi = sorted((rng.randint(1, n), rng.randint(1, n)))
        lines.append(f"{lo} {hi}")
    return "\n".join(lines) + "\n"


def range_sums_ref(text: str) -> str:
    it = iter(text.split())
    n, q = int(next(it)), int(next(it))
    pre = [0]
    for _ in range(n):
        pre.append(pre[-1] + int(next(it)))
    out = []
    for _ in range(q):
        lo, hi = int(next(it)), int(next(it))
        out.append(pre[hi] - pre[lo - 1])
    return "\n".join(map(str, out)) + "\n"


_RANGE_SUMS = r"""#include <bits/stdc++.h>
using namespace std;
typedef long long ll;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int n, q;
    cin >> n >> q;
    vector<ll> pre(n + 1, 0);
    for (int i = 1; i <= n; i++) {
        ll x;
        cin >> x;
        pre[i] = pre[i - 1] + x;
    }
    string out;
    while (q--) {
        int l, r;
        cin >> l >> r;
        out += to_string(pre[r] - pre[l - 1]);
        out += '\n';
    }
    cout << out;
    return 0;
}
"""

RANGE_SUMS = {
    "accepted": _RANGE_SUMS,
    "wrong": variant(_RANGE_SUMS, ("vector<ll> pre(", "vector<int> pre("), ("        ll x;", "        int x;")),
    "slow": variant(_RANGE_SUMS, ("vector<ll> pre(", "vector<ll> a("), ("pre[i] = pre[i - 1] + x;", "a[i] = x;"),
                    ("        out += to_string(pre[r] - pre[l - 1]);\n", """        ll s = 0;
        for (int i = l; i <= r; i++) {
            s += a[i];
        }
        out += to_string(s);
""")),
    "crash": variant(_RANGE_SUMS, ("vector<ll> pre(n + 1, 0);", "vector<ll> pre;\n    pre[0] = 0;")),
    "noncompiling": variant(_RANGE_SUMS, ("vector<ll> pre(n + 1, 0);", "vector<ll> pre(n + 1, 0)")),
}


# -- 2. count primes --------------------------------------------------------------------------------

_PRIMES_UP_TO = 10_000_000
_sieve_cache: list[bytearray] = []


def _sieve() -> bytearray:
    if not _sieve_cache:
        n = _PRIMES_UP_TO
        s = bytearray([1]) * (n + 1)
        s[0] = s[1] = 0
        for i in range(2, int(n ** 0.5) + 1):
            if s[i]:
                s[i * i::i] = bytes(len(range(i * i, n + 1, i)))
        _sieve_cache.append(s)
    return _sieve_cache[0]


def primes_input(rng: random.Random, size: str) -> str:
    q, top = {"small": (rng.randint(1, 6), 40), "medium": (20, rng.randint(1000, 20_000)),
              "large": (100, rng.randint(5_000_000, _PRIMES_UP_TO))}[size]
    ns = _ints(rng, q - 1, 1, top) + [top]
    rng.shuffle(ns)
    if size != "small":  # a prime among the queries
        p = rng.randint(2, top)
        while not _is_prime(p):
            p -= 1 if p > 2 else -1
        ns[rng.randrange(q)] = p
    return f"{q}\n{_line(ns)}\n"


def _is_prime(k: int) -> bool:
    return k >= 2 and all(k % d for d in range(2, int(k ** 0.5) + 1))


def primes_ref(text: str) -> str:
    vals = list(map(int, text.split()))[1:]
    s = _sieve()
    counts = {}
    prev, total = 0, 0
    for n in sorted(set(vals)):
        total += s.count(1, prev, n + 1)
        prev = n + 1
        counts[n] = total
    return "\n".join(str(counts[n]) for n in vals) + "\n"


_PRIMES = r"""#include <bits/stdc++.h>
using namespace std;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int q;
    cin >> q;
    vector<int> ns(q);
    for (auto &x : ns) cin >> x;
    int mx = *max_element(ns.begin(), ns.end());
    vector<char> composite(mx + 1, 0);
    vector<int> pi(mx + 1, 0);
    for (long long i = 2; i <= mx; i++) {
        pi[i] = pi[i - 1] + !composite[i];
        if (!composite[i])
            for (long long j = i * i; j <= mx; j += i) composite[j] = 1;
    }
    for (int x : ns) cout << pi[x] << '\n';
    return 0;
}
"""

PRIMES = {
    "accepted": _PRIMES,
    "wrong": variant(_PRIMES, ("cout << pi[x]", "cout << pi[x - 1]")),
    "slow": variant(_PRIMES, ("""        pi[i] = pi[i - 1] + !composite[i];
        if (!composite[i])
            for (long long j = i * i; j <= mx; j += i) composite[j] = 1;
""", """        for (long long d = 2; d * d <= i; d++)
            if (i % d == 0) composite[i] = 1;
        pi[i] = pi[i - 1] + !composite[i];
""")),
    "crash": variant(_PRIMES, ("vector<int> pi(mx + 1, 0);", "vector<int> pi(mx, 0);"), ("i <= mx; i++", "i < mx; i++"),
                     ("cout << pi[x]", "cout << pi.at(x)")),
    "noncompiling": variant(_PRIMES, ("composite[j] = 1", "composit[j] = 1")),
}


# -- 3. sort and dedupe ------------------------------------------------------------------------------

def dedupe_input(rng: random.Random, size: str) -> str:
    n, hi = {"small": (rng.randint(1, 10), 10), "medium": (rng.randint(200, 3000), 10**6),
             "large": (100_000, 200_000)}[size]
    return f"{n}\n{_line(_ints(rng, n, 0, hi))}\n"


def dedupe_ref(text: str) -> str:
    vals = sorted(set(map(int, text.split()[1:])))
    return f"{len(vals)}\n{_line(vals)}\n"


_DEDUPE = r"""#include <bits/stdc++.h>
using namespace std;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int n;
    cin >> n;
    vector<int> a(n);
    for (auto &x : a) cin >> x;
    sort(a.begin(), a.end());
    a.erase(unique(a.begin(), a.end()), a.end());
    cout << a.size() << '\n';
    for (size_t i = 0; i < a.size(); i++) cout << a[i] << (i + 1 < a.size() ? ' ' : '\n');
    return 0;
}
"""

DEDUPE = {
    "accepted": _DEDUPE,
    "wrong": variant(_DEDUPE, (r"""    cout << a.size() << '\n';
""", "")),
    "slow": variant(_DEDUPE, ("    sort(a.begin(), a.end());\n", """    for (int i = 0; i < n; i++)
        for (int j = 0; j + 1 < n - i; j++)
            if (a[j] > a[j + 1]) swap(a[j], a[j + 1]);
""")),
    "crash": variant(_DEDUPE, ("    a.erase(unique(a.begin(), a.end()), a.end());\n", """    vector<int> b;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || a[i] != a[i - 1]) b[k++] = a[i];
"""), (r"""    cout << a.size() << '\n';
    for (size_t i = 0; i < a.size(); i++) cout << a[i] << (i + 1 < a.size() ? ' ' : '\n');
""", r"""    cout << k << '\n';
    for (int i = 0; i < k; i++) cout << b[i] << (i + 1 < k ? ' ' : '\n');
""")),
    "noncompiling": variant(_DEDUPE, ("sort(", "sotr(")),
}


# -- 4. maximum subarray ------------------------------------------------------------------------------

def max_subarray_input(rng: random.Random, size: str) -> str:
    n, bound = {"small": (rng.randint(1, 10), 20), "medium": (rng.randint(200, 2000), 10**9),
                "large": (200_000, 10**9)}[size]
    if rng.random() < 0.35:  # all negative
        a = _ints(rng, n, -bound, -1)
    else:
        a = _ints(rng, n, -bound, bound)
    return f"{n}\n{_line(a)}\n"


def max_subarray_ref(text: str) -> str:
    a = list(map(int, text.split()))[1:]
    best, cur = a[0], 0
    for x in a:
        cur = max(x, cur + x)
        best = max(best, cur)
    return f"{best}\n"


_MAX_SUBARRAY = r"""#include <bits/stdc++.h>
using namespace std;
typedef long long ll;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int n;
    cin >> n;
    vector<ll> a(n);
    for (auto &x : a) cin >> x;
    ll best = a[0], cur = 0;
    for (int i = 0; i < n; i++) {
        cur = max(a[i], cur + a[i]);
        best = max(best, cur);
    }
    cout << best << endl;
    return 0;
}
"""

MAX_SUBARRAY = {
    "accepted": _MAX_SUBARRAY,
    "wrong": variant(_MAX_SUBARRAY, ("ll best = a[0]", "ll best = 0"), ("cur = max(a[i],", "cur = max(0LL,")),
    "slow": variant(_MAX_SUBARRAY, ("ll best = a[0], cur = 0;", "ll best = LLONG_MIN;"), ("""        cur = max(a[i], cur + a[i]);
        best = max(best, cur);
""", """        ll s = 0;
        for (int j = i; j < n; j++) {
            s += a[j];
            best = max(best, s);
        }
""")),
    "crash": variant(_MAX_SUBARRAY, ("typedef long long ll;\n", """typedef long long ll;

vector<ll> a;

// best sum of a subarray of a[l..r], divide and conquer
ll solve(int l, int r) {
    if (l == r) return a[l];
    int m = (l + r) / 2;
    ll left = LLONG_MIN, right = LLONG_MIN, s = 0;
    for (int i = m; i >= l; i--) { s += a[i]; left = max(left, s); }
    s = 0;
    for (int i = m + 1; i <= r; i++) { s += a[i]; right = max(right, s); }
    ll cross = left + (right == LLONG_MIN ? 0 : right);
    return max({solve(l, m), solve(m, r), cross});
}
"""), ("    vector<ll> a(n);\n", "    a.resize(n);\n"), ("""    ll best = a[0], cur = 0;
    for (int i = 0; i < n; i++) {
        cur = max(a[i], cur + a[i]);
        best = max(best, cur);
    }
""", "    if (n == 1) { cout << a[0] << endl; return 0; }\n"), ("cout << best", "cout << solve(0, n - 1)")),
    "noncompiling": variant(_MAX_SUBARRAY, ("return 0;", "retrun 0;")),
}


# -- 5. gcd of pairs ----------------------------------------------------------------------------------

def gcd_input(rng: random.Random, size: str) -> str:
    q, hi = {"small": (rng.randint(1, 8), 100), "medium": (100, 10**12), "large": (2000, 10**12)}[size]
    pairs = [(rng.randint(0, hi), rng.randint(1, hi)) for _ in range(q)]
    pairs[rng.randrange(q)] = (rng.randint(1, hi), 0)  # a zero in every test
    if size == "large":  # a huge number against a small one, a few times
        for _ in range(5):
            pairs[rng.randrange(q)] = (rng.randint(hi // 2, hi), rng.randint(1, 9))
    if size == "medium":  # a common factor now and then
        for _ in range(10):
            g = rng.randint(2, 10**5)
            pairs[rng.randrange(q)] = (g * rng.randint(1, 10**6), g * rng.randint(1, 10**6))
    return f"{q}\n" + "\n".join(f"{a} {b}" for a, b in pairs) + "\n"


def gcd_ref(text: str) -> str:
    import math
    v = list(map(int, text.split()))
    return "\n".join(str(math.gcd(v[i], v[i + 1])) for i in range(1, len(v), 2)) + "\n"


_GCD = r"""#include <bits/stdc++.h>
using namespace std;
typedef long long ll;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int q;
    cin >> q;
    while (q--) {
        ll a, b;
        cin >> a >> b;
        cout << __gcd(a, b) << '\n';
    }
    return 0;
}
"""

GCD = {
    "accepted": _GCD,
    "wrong": variant(_GCD, ("ll a, b;", "int a, b;")),
    "slow": variant(_GCD, (r"""        cout << __gcd(a, b) << '\n';
""", r"""        while (a > 0 && b > 0) {
            if (a > b) a -= b;
            else b -= a;
        }
        cout << a + b << '\n';
""")),
    "crash": variant(_GCD, ("typedef long long ll;\n", """typedef long long ll;

ll g(ll a, ll b) { return a % b == 0 ? b : g(b, a % b); }
"""), ("__gcd(a, b)", "g(a, b)")),
    "noncompiling": variant(_GCD, ("    return 0;\n}\n", "    return 0;\n")),
}


# -- 6. bracket matching ------------------------------------------------------------------------------

_OPEN, _CLOSE = "([{", ")]}"


def _balanced(rng: random.Random, length: int, deep: bool = False) -> str:
    out, stack = [], []
    while len(out) + len(stack) < length:
        if stack and (not deep and rng.random() < 0.5 or len(out) + 2 * len(stack) >= length):
            out.append(_CLOSE[stack.pop()])
        else:
            k = rng.randrange(3)
            stack.append(k)
            out.append(_OPEN[k])
    out.extend(_CLOSE[k] for k in reversed(stack))
    return "".join(out)


def brackets_input(rng: random.Random, size: str) -> str:
    strings: list[str] = []
    if size == "small":
        strings = [_balanced(rng, 2 * rng.randint(1, 4)) for _ in range(rng.randint(1, 4))]
    elif size == "medium":
        strings = [_balanced(rng, 2 * rng.randint(1, 100)) for _ in range(50)]
    else:
        strings = [_balanced(rng, 200_000, deep=True), _balanced(rng, 100_000, deep=True),
                   _balanced(rng, 50_000)]
    # damage some: a swapped pair of closers (crossing), a removed character, a swapped neighbour
    for i in range(len(strings)):
        s = strings[i]
        r = rng.random()
        if r < 0.2 and len(s) > 2:
            j = rng.randrange(len(s))
            strings[i] = s[:j] + s[j + 1:]
        elif r < 0.4 and len(s) > 2:
            j = rng.randrange(len(s) - 1)
            strings[i] = s[:j] + s[j + 1] + s[j] + s[j + 2:]
    strings.append("([)]" if size == "small" else _balanced(rng, 40) + "([)]" + _balanced(rng, 20))
    strings.append(rng.choice(_CLOSE) + _balanced(rng, 6))  # starts with a closer
    rng.shuffle(strings)
    return f"{len(strings)}\n" + "\n".join(strings) + "\n"


def brackets_ref(text: str) -> str:
    out = []
    for s in text.split()[1:]:
        stack, ok = [], True
        for ch in s:
            if ch in _OPEN:
                stack.append(ch)
            elif not stack or _OPEN[_CLOSE.index(ch)] != stack.pop():
                ok = False
                break
        out.append("YES" if ok and not stack else "NO")
    return "\n".join(out) + "\n"


_BRACKETS = r"""#include <bits/stdc++.h>
using namespace std;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int t;
    cin >> t;
    while (t--) {
        string s;
        cin >> s;
        vector<char> st;
        bool ok = true;
        for (char c : s) {
            if (c == '(' || c == '[' || c == '{') st.push_back(c);
            else {
                char want = c == ')' ? '(' : c == ']' ? '[' : '{';
                if (st.empty() || st.back() != want) { ok = false; break; }
                st.pop_back();
            }
        }
        cout << (ok && st.empty() ? "YES" : "NO") << '\n';
    }
    return 0;
}
"""

BRACKETS = {
    "accepted": _BRACKETS,
    "wrong": variant(_BRACKETS, ("if (st.empty() || st.back() != want)", "if (st.empty())")),
    "slow": variant(_BRACKETS, ("        vector<char> st;\n", """        bool changed = true;
        while (changed && !s.empty()) {
            changed = false;
            for (size_t i = 0; i + 1 < s.size(); i++) {
                string p = s.substr(i, 2);
                if (p == "()" || p == "[]" || p == "{}") {
                    s.erase(i, 2);
                    changed = true;
                    break;
                }
            }
        }
        vector<char> st;
""")),
    "crash": variant(_BRACKETS, ("if (st.empty() || st.back() != want)", "if (st.back() != want)")),
    "noncompiling": variant(_BRACKETS, ("            }\n        }\n", "            }\n")),
}


# -- 7. longest increasing subsequence ---------------------------------------------------------------

def lis_input(rng: random.Random, size: str) -> str:
    n = {"small": rng.randint(1, 10), "medium": rng.randint(200, 2000), "large": 150_000}[size]
    hi = {"small": 5, "medium": max(2, n // 2), "large": 10**9}[size]
    a = _ints(rng, n, 1, hi)
    if size == "large":  # runs of equal values
        for _ in range(200):
            j = rng.randrange(n - 50)
            a[j:j + 50] = [a[j]] * 50
    return f"{n}\n{_line(a)}\n"


def lis_ref(text: str) -> str:
    d: list[int] = []
    for x in map(int, text.split()[1:]):
        i = bisect.bisect_left(d, x)
        if i == len(d):
            d.append(x)
        else:
            d[i] = x
    return f"{len(d)}\n"


_LIS = r"""#include <bits/stdc++.h>
using namespace std;

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int n;
    cin >> n;
    vector<int> d;
    for (int i = 0; i < n; i++) {
        int x;
        cin >> x;
        auto it = lower_bound(d.begin(), d.end(), x);
        if (it == d.end()) d.push_back(x);
        else *it = x;
    }
    cout << d.size() << endl;
    return 0;
}
"""

LIS = {
    "accepted": _LIS,
    "wrong": variant(_LIS, ("lower_bound(", "upper_bound(")),
    "slow": variant(_LIS, ("    vector<int> d;\n", "    vector<int> a(n), dp(n, 1);\n    int best = 0;\n"), ("""        auto it = lower_bound(d.begin(), d.end(), x);
        if (it == d.end()) d.push_back(x);
        else *it = x;
""", """        a[i] = x;
        for (int j = 0; j < i; j++)
            if (a[j] < a[i] && dp[j] + 1 > dp[i]) dp[i] = dp[j] + 1;
        best = max(best, dp[i]);
"""), ("cout << d.size()", "cout << best")),
    "crash": variant(_LIS, ("""        auto it = lower_bound(d.begin(), d.end(), x);
        if (it == d.end()) d.push_back(x);
        else *it = x;
""", """        if (x > d.back()) d.push_back(x);
        else *lower_bound(d.begin(), d.end(), x) = x;
""")),
    "noncompiling": variant(_LIS, ("cout << d.size() << endl;", "cout << d.size() << endl")),
}


# -- 8. Fibonacci modulo a prime ---------------------------------------------------------------------

MOD = 1_000_000_007


def fib_input(rng: random.Random, size: str) -> str:
    q, hi = {"small": (rng.randint(1, 6), 30), "medium": (20, 100_000), "large": (100, 10**18)}[size]
    return f"{q}\n" + "\n".join(str(rng.randint(0, hi)) for _ in range(q)) + "\n"


def _fib(n: int) -> tuple[int, int]:
    if n == 0:
        return 0, 1
    a, b = _fib(n >> 1)
    c = a * ((2 * b - a) % MOD) % MOD
    d = (a * a + b * b) % MOD
    return (d, (c + d) % MOD) if n & 1 else (c, d)


def fib_ref(text: str) -> str:
    return "\n".join(str(_fib(int(x))[0]) for x in text.split()[1:]) + "\n"


_FIB = r"""#include <bits/stdc++.h>
using namespace std;
typedef long long ll;
const ll MOD = 1000000007;

pair<ll, ll> fib(ll n) {  // (F(n), F(n+1))
    if (n == 0) return {0, 1};
    auto [a, b] = fib(n >> 1);
    ll c = a * ((2 * b - a + MOD) % MOD) % MOD;
    ll d = (a * a + b * b) % MOD;
    if (n & 1) return {d, (c + d) % MOD};
    return {c, d};
}

int main() {
    ios::sync_with_stdio(false);
    cin.tie(nullptr);
    int q;
    cin >> q;
    while (q--) {
        ll n;
        cin >> n;
        cout << fib(n).first << '\n';
    }
    return 0;
}
"""

FIB = {
    "accepted": _FIB,
    "wrong": variant(_FIB, ("pair<ll, ll> fib(", "pair<int, int> fib(")),
    "slow": variant(_FIB, (r"""        cout << fib(n).first << '\n';
""", r"""        ll a = 0, b = 1;
        for (ll i = 0; i < n; i++) {
            ll c = (a + b) % MOD;
            a = b;
            b = c;
        }
        cout << a << '\n';
""")),
    "crash": variant(_FIB, ("        ll n;\n        cin >> n;\n", "        string s;\n        cin >> s;\n        int n = stoi(s);\n")),
    "noncompiling": variant(_FIB, ("+ MOD) % MOD) % MOD", "+ MDO) % MOD) % MOD")),
}


PROBLEMS: list[Problem] = [
    Problem("range_sums", "n numbers, q queries l r: the sum of a[l..r]", range_sums_input, range_sums_ref, RANGE_SUMS,
            {"wrong": "prefix sums in int: overflow", "slow": "a loop over each query's range: O(n q)",
             "crash": "forgets to size the prefix vector: writes through its null data", "noncompiling": "a missing semicolon"}),
    Problem("count_primes", "q numbers n: how many primes are <= n", primes_input, primes_ref, PRIMES,
            {"wrong": "off by one: counts the primes < n", "slow": "trial division of every number up to n",
             "crash": "the count table one too short, read with .at(): std::out_of_range, abort",
             "noncompiling": "a misspelt name"}),
    Problem("sort_dedupe", "n numbers: their count of distinct values, then the values in order", dedupe_input,
            dedupe_ref, DEDUPE,
            {"wrong": "forgets the count line", "slow": "bubble sort", "crash": "writes into an empty vector by index",
             "noncompiling": "sotr for sort"}),
    Problem("max_subarray", "n numbers: the largest sum of a non-empty run", max_subarray_input, max_subarray_ref,
            MAX_SUBARRAY,
            {"wrong": "best starts at 0: wrong when all are negative", "slow": "every (i, j): O(n^2)",
             "crash": "divide and conquer splits at (l, m) and (m, r): endless recursion",
             "noncompiling": "retrun"}),
    Problem("gcd_pairs", "q pairs a b up to 10^12: their gcd", gcd_input, gcd_ref, GCD,
            {"wrong": "reads into int", "slow": "gcd by subtraction", "crash": "a % 0 when b is 0: SIGFPE",
             "noncompiling": "main's closing brace missing"}),
    Problem("brackets", "t strings of ()[]{}: YES if balanced", brackets_input, brackets_ref, BRACKETS,
            {"wrong": "a closer pops any opener, whatever its kind: ([)] passes",
             "slow": "first erases matched pairs one at a time, each found by a scan from the start",
             "crash": "reads the top of an empty stack: st.back() on a vector with no storage",
             "noncompiling": "a loop's closing brace missing"}),
    Problem("lis", "n numbers: the length of the longest strictly increasing subsequence", lis_input, lis_ref, LIS,
            {"wrong": "upper_bound: counts non-decreasing", "slow": "the O(n^2) DP",
             "crash": "d.back() on an empty vector", "noncompiling": "a missing semicolon"}),
    Problem("fib_mod", "q numbers n up to 10^18: F(n) mod 1e9+7", fib_input, fib_ref, FIB,
            {"wrong": "F(n) kept in int: a * a + b * b overflows", "slow": "iterates n times",
             "crash": "stoi on n: std::out_of_range past 2^31, abort", "noncompiling": "MDO for MOD"}),
]


def build(problems: int | None, tests: int, seed: int) -> list[tuple[Problem, list[tuple[str, str]]]]:
    """The first ``problems`` problems, each with ``tests`` (input, expected output) pairs."""
    out = []
    for p_index, p in enumerate(PROBLEMS[:problems]):
        cases = []
        for t, size in enumerate(sizes(tests)):
            rng = random.Random(f"{seed}/{p.name}/{t}")
            text = p.make_input(rng, size)
            cases.append((text, p.reference(text)))
        out.append((p, cases))
    return out

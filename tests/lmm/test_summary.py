"""The summary printout against R's: lmerTest's summary() of lmer fits and
lme4's of a glmer fit, as R 4.2.2 (lme4 1.1-31, lmerTest 3.1-3) printed them.

The expected blocks below are R's output from the line after ``Data:`` on,
with R's trailing blanks dropped and the curly quotes of the significance
legend (UTF-8 locale) written as ASCII quotes, as we print them. R's code:

    library(lmerTest)
    ss <- read.csv("sleepstudy.csv"); ss$Subject <- factor(ss$Subject)
    su <- read.csv("sleepstudy_unbal.csv"); su$Subject <- factor(su$Subject); su$grp <- factor(su$grp)
    dx <- read.csv("dietox.csv"); dx$Pig <- factor(dx$Pig); dx$Evit <- factor(dx$Evit)
    summary(lmer(Reaction ~ Days + (Days | Subject), ss))               # sleepstudy_reml
    summary(lmer(Reaction ~ Days + (Days | Subject), ss, REML = FALSE)) # sleepstudy_ml
    summary(lmer(Reaction ~ Days + (Days || Subject), ss))              # sleepstudy_uncorrelated
    summary(lmer(Reaction ~ Days * grp + (Days | Subject), su))         # sleepstudy_unbal
    summary(lmer(Weight ~ Time * Evit + (1 | Pig), dx))                 # dietox
    cb <- read.csv("cbpp.csv", stringsAsFactors = TRUE); cb$herd <- factor(cb$herd); cb$period <- factor(cb$period)
    summary(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cb, family = binomial))  # cbpp

A line matches R's when it has the same layout (the same characters, every
digit counted as one) and its numbers agree to 0.1%: the estimates of the two
optimizers differ in the last printed digits (612.10 vs 612.09), the layout
and the number of decimals of each column must not.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels._summary import abbreviate, format_pvalues, format_real

R_OUTPUT = {
    "sleepstudy_reml": """
REML criterion at convergence: 1743.6

Scaled residuals:
    Min      1Q  Median      3Q     Max
-3.9536 -0.4634  0.0231  0.4634  5.1793

Random effects:
 Groups   Name        Variance Std.Dev. Corr
 Subject  (Intercept) 612.10   24.741
          Days         35.07    5.922   0.07
 Residual             654.94   25.592
Number of obs: 180, groups:  Subject, 18

Fixed effects:
            Estimate Std. Error      df t value Pr(>|t|)
(Intercept)  251.405      6.825  17.000  36.838  < 2e-16 ***
Days          10.467      1.546  17.000   6.771 3.26e-06 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1

Correlation of Fixed Effects:
     (Intr)
Days -0.138
""",
    "sleepstudy_ml": """
     AIC      BIC   logLik deviance df.resid
  1763.9   1783.1   -876.0   1751.9      174

Scaled residuals:
    Min      1Q  Median      3Q     Max
-3.9416 -0.4656  0.0289  0.4636  5.1793

Random effects:
 Groups   Name        Variance Std.Dev. Corr
 Subject  (Intercept) 565.48   23.780
          Days         32.68    5.717   0.08
 Residual             654.95   25.592
Number of obs: 180, groups:  Subject, 18

Fixed effects:
            Estimate Std. Error      df t value Pr(>|t|)
(Intercept)  251.405      6.632  18.001  37.907  < 2e-16 ***
Days          10.467      1.502  18.000   6.968 1.65e-06 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1

Correlation of Fixed Effects:
     (Intr)
Days -0.138
""",
    "sleepstudy_uncorrelated": """
REML criterion at convergence: 1743.7

Scaled residuals:
    Min      1Q  Median      3Q     Max
-3.9626 -0.4625  0.0204  0.4653  5.1860

Random effects:
 Groups    Name        Variance Std.Dev.
 Subject   (Intercept) 627.57   25.051
 Subject.1 Days         35.86    5.988
 Residual              653.58   25.565
Number of obs: 180, groups:  Subject, 18

Fixed effects:
            Estimate Std. Error      df t value Pr(>|t|)
(Intercept)  251.405      6.885  18.156  36.513  < 2e-16 ***
Days          10.467      1.560  18.156   6.712 2.59e-06 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1

Correlation of Fixed Effects:
     (Intr)
Days -0.184
""",
    "sleepstudy_unbal": """
REML criterion at convergence: 1174.3

Scaled residuals:
    Min      1Q  Median      3Q     Max
-3.4596 -0.4433 -0.0489  0.4053  4.6637

Random effects:
 Groups   Name        Variance Std.Dev. Corr
 Subject  (Intercept) 404.0    20.100
          Days         44.2     6.648   -0.06
 Residual             798.6    28.260
Number of obs: 120, groups:  Subject, 18

Fixed effects:
            Estimate Std. Error      df t value Pr(>|t|)
(Intercept)  251.028     13.488  16.511  18.612 1.65e-12 ***
Days           6.536      3.489  16.128   1.873   0.0793 .
grpb           5.397     15.748  16.192   0.343   0.7362
Days:grpb      4.428      4.105  16.104   1.079   0.2966
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1

Correlation of Fixed Effects:
          (Intr) Days   grpb
Days      -0.366
grpb      -0.856  0.313
Days:grpb  0.311 -0.850 -0.364
""",
    "dietox": """
REML criterion at convergence: 4793.9

Scaled residuals:
    Min      1Q  Median      3Q     Max
-4.9037 -0.5661 -0.0972  0.4843  5.0245

Random effects:
 Groups   Name        Variance Std.Dev.
 Pig      (Intercept) 39.73    6.304
 Residual             11.21    3.347
Number of obs: 861, groups:  Pig, 72

Fixed effects:
                  Estimate Std. Error        df t value Pr(>|t|)
(Intercept)       15.30889    1.38279  80.63550  11.071   <2e-16 ***
Time               6.96485    0.05837 786.00464 119.327   <2e-16 ***
EvitEvit100        1.27025    1.93539  80.68667   0.656   0.5135
EvitEvit200       -0.03067    1.91619  80.65930  -0.016   0.9873
Time:EvitEvit100   0.11722    0.08207 786.03367   1.428   0.1536
Time:EvitEvit200  -0.17565    0.08106 786.01871  -2.167   0.0305 *
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1

Correlation of Fixed Effects:
            (Intr) Time   EvE100 EvE200 T:EE10
Time        -0.274
EvitEvit100 -0.714  0.196
EvitEvit200 -0.722  0.198  0.516
Tm:EvtEv100  0.195 -0.711 -0.275 -0.141
Tm:EvtEv200  0.198 -0.720 -0.141 -0.275  0.512
""",
    "cbpp": """
     AIC      BIC   logLik deviance df.resid
   194.1    204.2    -92.0    184.1       51

Scaled residuals:
    Min      1Q  Median      3Q     Max
-2.3816 -0.7889 -0.2026  0.5142  2.8791

Random effects:
 Groups Name        Variance Std.Dev.
 herd   (Intercept) 0.4123   0.6421
Number of obs: 56, groups:  herd, 15

Fixed effects:
            Estimate Std. Error z value Pr(>|z|)
(Intercept)  -1.3983     0.2312  -6.048 1.47e-09 ***
period2      -0.9919     0.3032  -3.272 0.001068 **
period3      -1.1282     0.3228  -3.495 0.000474 ***
period4      -1.5797     0.4220  -3.743 0.000182 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1

Correlation of Fixed Effects:
        (Intr) perid2 perid3
period2 -0.363
period3 -0.340  0.280
period4 -0.260  0.213  0.198
""",
}

MODELS = {
    "sleepstudy_reml": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {}),
    "sleepstudy_ml": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", {"REML": False}),
    "sleepstudy_uncorrelated": ("Reaction ~ Days + (Days || Subject)", "sleepstudy", {}),
    "sleepstudy_unbal": ("Reaction ~ Days * grp + (Days | Subject)", "sleepstudy_unbal", {}),
    "dietox": ("Weight ~ Time * Evit + (1 | Pig)", "dietox", {}),
}

NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]\d+)?")


def shape(line: str) -> str:
    return re.sub(r"\d", "9", line.rstrip())


def numbers(line: str) -> list[float]:
    # Signs are part of the layout check; labels such as "EvitEvit100" or "perid2" hold digits too.
    return [float(x) for x in NUMBER.findall(line)]


def lines_match(got: str, expected: str) -> bool:
    if shape(got) != shape(expected):
        return False
    a, b = numbers(got), numbers(expected)
    return len(a) == len(b) and bool(np.allclose(a, b, rtol=1e-3, atol=2e-3))


def assert_like_r(text: str, expected: str) -> None:
    exp = expected.strip("\n").splitlines()
    got = [line.rstrip() for line in text.splitlines()]
    for start in range(len(got) - len(exp) + 1):
        if all(lines_match(g, e) for g, e in zip(got[start : start + len(exp)], exp, strict=True)):
            return
    # Show the first line that differs from R's, from the best-aligned start.
    start = next((i for i, g in enumerate(got) if lines_match(g, exp[0])), 0)
    bad = next(k for k, e in enumerate(exp) if start + k >= len(got) or not lines_match(got[start + k], e))
    ours = got[start + bad] if start + bad < len(got) else "<end of text>"
    pytest.fail(f"line {bad + 1} of the block differs from R's:\n  R:    {exp[bad]!r}\n  ours: {ours!r}\n\n{text}")


def summary_of(case: str) -> str:
    if case == "cbpp":
        m = mm.Lmer(
            "cbind(incidence, size - incidence) ~ period + (1 | herd)", mm.load_dataset("cbpp"), family="binomial"
        )
        m.fit(summarize=False, no_warnings=True)
        return m.summary_text()
    formula, data, opts = MODELS[case]
    m = mm.Lmer(formula, mm.load_dataset(data))
    m.fit(summarize=False, no_warnings=True, **opts)
    return m.summary_text()


@pytest.fixture(scope="module")
def summaries():
    cache: dict[str, str] = {}

    def get(case: str) -> str:
        if case not in cache:
            cache[case] = summary_of(case)
        return cache[case]

    return get


@pytest.mark.parametrize("case", sorted(R_OUTPUT))
def test_summary_reads_as_r_prints_it(summaries, case):
    assert_like_r(summaries(case), R_OUTPUT[case])


def test_correlation_labels_are_r_abbreviations(summaries):
    text = summaries("dietox")
    assert "            (Intr) Time   EvE100 EvE200 T:EE10" in text
    assert "Tm:EvtEv200  0.198 -0.720 -0.141 -0.275  0.512" in text
    assert "Days:grpb  0.311" in summaries("sleepstudy_unbal")


def test_stars_are_left_aligned(summaries):
    lines = summaries("sleepstudy_unbal").splitlines()
    first = next(line for line in lines if line.startswith("(Intercept)"))
    days = next(line for line in lines if line.startswith("Days "))
    # The stars column starts one blank after the p-values, '.' under the first '*'.
    assert days.endswith("0.0793 .")
    assert first.index("***") == days.index(" .") + 1


def test_repeated_grouping_factor_is_numbered(summaries):
    text = summaries("sleepstudy_uncorrelated")
    assert " Subject   (Intercept)" in text
    assert " Subject.1 Days" in text


# R's abbreviate(names, 6) and abbreviate(names, 11), from R 4.2.2.
ABBREVIATIONS = [
    ("(Intercept)", "(Intr)", "(Intercept)"),
    ("Days", "Days", "Days"),
    ("Days:grpb", "Dys:gr", "Days:grpb"),
    ("Time:EvitEvit100", "T:EE10", "Tm:EvtEv100"),
    ("Time:EvitEvit200", "T:EE20", "Tm:EvtEv200"),
    ("EvitEvit100", "EvE100", "EvitEvit100"),
    ("poly(Days, 2)1", "p(D,2)1", "ply(Dys,2)1"),  # lengthened to stay unique
    ("poly(Days, 2)2", "p(D,2)2", "ply(Dys,2)2"),
    ("I(Days^2)", "I(D^2)", "I(Days^2)"),
    ("Machine B", "MachnB", "Machine B"),
    ("scale(Time):CuCu035", "s(T):C", "sc(T):CC035"),
    ("sexmale", "sexmal", "sexmale"),
    ("aeiouaeiou", "aeioua", "aeiouaeiou"),
]


def test_abbreviate_matches_r():
    names = [n for n, _, _ in ABBREVIATIONS]
    assert abbreviate(names, 6) == [a for _, a, _ in ABBREVIATIONS]
    assert abbreviate(names, 11) == [b for _, _, b in ABBREVIATIONS]


@pytest.mark.parametrize(
    "values, digits, nsmall, expected",
    [
        ([612.0989, 35.07, 654.94], 4, 0, ["612.10", " 35.07", "654.94"]),
        ([15.30889, 0.05837, 786.00464, -0.03067], 4, 0, [" 15.30889", "  0.05837", "786.00464", " -0.03067"]),
        ([0.5, 0.07, -0.4], 7, 2, [" 0.50", " 0.07", "-0.40"]),
        ([1e-10, 250, 3], 4, 0, ["1.0e-10", "2.5e+02", "3.0e+00"]),
        ([9.9996], 4, 0, ["10"]),
        ([99996], 3, 0, ["99996"]),
        ([-0.0, 1.5], 4, 0, ["0.0", "1.5"]),
    ],
)
def test_format_matches_r(values, digits, nsmall, expected):
    assert format_real(values, digits, nsmall) == expected


@pytest.mark.parametrize(
    "pvalues, expected",
    [
        ([1e-20, 3.26e-06], ["< 2e-16", "3.26e-06"]),
        ([1e-20, 0.5135, 0.0305], ["<2e-16", "0.5135", "0.0305"]),
        ([0.001068, 0.000474, 1.47e-09], ["0.001068", "0.000474", "1.47e-09"]),
    ],
)
def test_format_pval_matches_r(pvalues, expected):
    assert format_pvalues(pvalues) == expected


@pytest.mark.parametrize(
    ("p", "stars"),
    [(0.0005, "***"), (0.001, "***"), (0.0011, "**"), (0.05, "*"), (0.0501, "."), (0.1, "."), (0.2, ""), (np.nan, "")],
)
def test_significance_stars_use_r_right_closed_bins(p, stars):
    from mixedmodels._stats import significance

    assert significance(p) == stars

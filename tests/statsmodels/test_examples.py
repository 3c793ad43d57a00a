"""statsmodels' documented MixedLM examples, run with only the imports changed
(``import mixedmodels.sm as sm`` for ``import statsmodels.api as sm``,
``import mixedmodels.formula.api as smf`` for ``statsmodels.formula.api``):
the dietox example of statsmodels' user guide (docs/source/mixed_linear.rst)
and its random-slope and independent-effects variants
(examples/python/mixed_lm_example.py), and the nested and crossed
variance-component analyses (examples/python/variance_components.py).

The dietox estimates are checked against the lme4 output printed in
statsmodels' example; the simulated variance-component fits against the same
model written in lme4's syntax and the variances the data were drawn with.
"""

import numpy as np
import pandas as pd
import pytest

import mixedmodels.formula.api as smf
import mixedmodels.sm as sm
from mixedmodels import Lmer
from mixedmodels.sm.regression.mixed_linear_model import VCSpec


def test_dietox_random_intercepts():
    data = sm.datasets.get_rdataset("dietox", "geepack").data
    md = smf.mixedlm("Weight ~ Time", data, groups=data["Pig"])
    mdf = md.fit(method=["lbfgs"])
    text = str(mdf.summary())
    # lme4 (statsmodels' example): Pig (Intercept) 40.39, Residual 11.37; 15.72352 (0.78805), 6.94251 (0.03339)
    assert mdf.cov_re.iloc[0, 0] == pytest.approx(40.39, abs=0.005)
    assert mdf.scale == pytest.approx(11.37, abs=0.005)
    assert mdf.fe_params.to_numpy() == pytest.approx([15.72352, 6.94251], abs=1e-5)
    assert mdf.bse_fe.to_numpy() == pytest.approx([0.78805, 0.03339], abs=1e-5)
    assert "Group Var" in text and "Log-Likelihood:" in text and "Mixed Linear Model Regression Results" in text


def test_dietox_random_slopes():
    data = sm.datasets.get_rdataset("dietox", "geepack").data
    md = smf.mixedlm("Weight ~ Time", data, groups=data["Pig"], re_formula="~Time")
    mdf = md.fit(method=["lbfgs"])
    print(mdf.summary())
    # lme4: Pig (Intercept) 19.493, Time 0.416, corr 0.10; Residual 6.038; 15.73865 (0.55012), 6.93901 (0.07982)
    assert mdf.cov_re.iloc[0, 0] == pytest.approx(19.493, abs=1e-3)
    assert mdf.cov_re.iloc[1, 1] == pytest.approx(0.416, abs=1e-3)
    corr = mdf.cov_re.iloc[0, 1] / np.sqrt(mdf.cov_re.iloc[0, 0] * mdf.cov_re.iloc[1, 1])
    assert corr == pytest.approx(0.10, abs=0.005)
    assert mdf.scale == pytest.approx(6.038, abs=1e-3)
    assert mdf.fe_params.to_numpy() == pytest.approx([15.73865, 6.93901], abs=1e-5)
    assert mdf.bse_fe.to_numpy() == pytest.approx([0.55012, 0.07982], abs=1e-5)


def test_dietox_independent_random_effects():
    data = sm.datasets.get_rdataset("dietox", "geepack").data
    md = smf.mixedlm("Weight ~ Time", data, groups=data["Pig"], re_formula="~Time")
    free = sm.regression.mixed_linear_model.MixedLMParams.from_components(np.ones(2), np.eye(2))

    mdf = md.fit(free=free, method=["lbfgs"])
    print(mdf.summary())
    # lme4, (1 | Pig) + (0 + Time | Pig): 19.8404, 0.4234, Residual 6.0282; 15.73875 (0.55444), 6.93899 (0.08045)
    assert np.diag(mdf.cov_re) == pytest.approx([19.8404, 0.4234], rel=1e-4)  # DESIGN.md: rel 1e-4
    assert mdf.cov_re.iloc[0, 1] == 0
    assert mdf.scale == pytest.approx(6.0282, rel=1e-4)
    assert mdf.fe_params.to_numpy() == pytest.approx([15.73875, 6.93899], abs=1e-5)
    assert mdf.bse_fe.to_numpy() == pytest.approx([0.55444, 0.08045], abs=1e-5)
    # statsmodels: "The likelihood drops by 0.3 when we fix the correlation parameter to 0"
    assert mdf.llf - (-4434.7 / 2) == pytest.approx(0, abs=0.05)


def generate_nested(n_group1=200, n_group2=20, n_rep=10, group1_sd=2, group2_sd=3, unexplained_sd=4):
    # Group 1 indicators
    group1 = np.kron(np.arange(n_group1), np.ones(n_group2 * n_rep))

    # Group 1 effects
    u = group1_sd * np.random.normal(size=n_group1)
    effects1 = np.kron(u, np.ones(n_group2 * n_rep))

    # Group 2 indicators
    group2 = np.kron(np.ones(n_group1), np.kron(np.arange(n_group2), np.ones(n_rep)))

    # Group 2 effects
    u = group2_sd * np.random.normal(size=n_group1 * n_group2)
    effects2 = np.kron(u, np.ones(n_rep))

    e = unexplained_sd * np.random.normal(size=n_group1 * n_group2 * n_rep)
    y = effects1 + effects2 + e

    df = pd.DataFrame({"y": y, "group1": group1, "group2": group2})

    return df


def generate_crossed(n_group1=100, n_group2=100, n_rep=4, group1_sd=2, group2_sd=3, unexplained_sd=4):
    # Group 1 indicators
    group1 = np.kron(np.arange(n_group1, dtype=int), np.ones(n_group2 * n_rep, dtype=int))
    group1 = group1[np.random.permutation(len(group1))]

    # Group 1 effects
    u = group1_sd * np.random.normal(size=n_group1)
    effects1 = u[group1]

    # Group 2 indicators
    group2 = np.kron(np.arange(n_group2, dtype=int), np.ones(n_group2 * n_rep, dtype=int))
    group2 = group2[np.random.permutation(len(group2))]

    # Group 2 effects
    u = group2_sd * np.random.normal(size=n_group2)
    effects2 = u[group2]

    e = unexplained_sd * np.random.normal(size=n_group1 * n_group2 * n_rep)
    y = effects1 + effects2 + e

    df = pd.DataFrame({"y": y, "group1": group1, "group2": group2})

    return df


def test_variance_components_nested_and_crossed():
    np.random.seed(3123)
    df = generate_nested()

    model1 = sm.MixedLM.from_formula(
        "y ~ 1",
        re_formula="1",
        vc_formula={"group2": "0 + C(group2)"},
        groups="group1",
        data=df,
    )
    result1 = model1.fit()
    print(result1.summary())

    def f(x):
        n = x.shape[0]
        g2 = x.group2
        u = g2.unique()
        u.sort()
        uv = {v: k for k, v in enumerate(u)}
        mat = np.zeros((n, len(u)))
        for i in range(n):
            mat[i, uv[g2.iloc[i]]] = 1
        colnames = [f"{z}" for z in u]
        return mat, colnames

    vcm = df.groupby("group1").apply(f).to_list()
    mats = [x[0] for x in vcm]
    colnames = [x[1] for x in vcm]
    names = ["group2"]
    vcs = VCSpec(names, [colnames], [mats])

    oo = np.ones(df.shape[0])
    model2 = sm.MixedLM(df.y, oo, exog_re=oo, groups=df.group1, exog_vc=vcs)
    result2 = model2.fit()
    print(result2.summary())

    # "It can be seen that the results of the two fits are identical."
    assert result2.params.to_numpy() == pytest.approx(result1.params.to_numpy(), rel=1e-8)
    # lme4's own syntax gives the same fit
    lmer = Lmer("y ~ 1 + (1 | group1) + (1 | group1:group2)", data=df)
    lmer.fit(summarize=False)
    assert result1.vcomp[0] == pytest.approx(lmer.ranef_var["Var"][0], rel=1e-8)  # group1:group2, most levels
    assert result1.cov_re.iloc[0, 0] == pytest.approx(lmer.ranef_var["Var"][1], rel=1e-8)
    # population values: group 1 Var 4, group 2 Var 9, scale 16
    assert result1.cov_re.iloc[0, 0] == pytest.approx(4, rel=0.3)
    assert result1.vcomp[0] == pytest.approx(9, rel=0.1)
    assert result1.scale == pytest.approx(16, rel=0.05)

    df = generate_crossed()

    vc = {"g1": "0 + C(group1)", "g2": "0 + C(group2)"}
    oo = np.ones(df.shape[0])
    model3 = sm.MixedLM.from_formula("y ~ 1", groups=oo, vc_formula=vc, data=df)
    result3 = model3.fit()
    print(result3.summary())

    def f(g):
        n = len(g)
        u = g.unique()
        u.sort()
        uv = {v: k for k, v in enumerate(u)}
        mat = np.zeros((n, len(u)))
        for i in range(n):
            mat[i, uv[g[i]]] = 1
        colnames = [f"{z}" for z in u]
        return [mat], [colnames]

    vcm = [f(df.group1), f(df.group2)]
    mats = [x[0] for x in vcm]
    colnames = [x[1] for x in vcm]
    names = ["group1", "group2"]
    vcs = VCSpec(names, colnames, mats)

    oo = np.ones(df.shape[0])
    model4 = sm.MixedLM(df.y, oo[:, None], exog_re=None, groups=oo, exog_vc=vcs)
    result4 = model4.fit()
    print(result4.summary())

    # "it is simple to check that the results for models 3 and 4 are identical"
    assert result4.params.to_numpy() == pytest.approx(result3.params.to_numpy(), rel=1e-8)
    lmer = Lmer("y ~ 1 + (1 | group1) + (1 | group2)", data=df)
    lmer.fit(summarize=False)
    assert sorted(result3.vcomp) == pytest.approx(sorted(lmer.ranef_var["Var"][:2]), rel=1e-8)
    assert result3.vcomp == pytest.approx([4, 9], rel=0.35)
    assert result3.scale == pytest.approx(16, rel=0.05)

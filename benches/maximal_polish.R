# lme4's polished optimum of the maximal_crossed_slopes case, and R's REML criterion at our theta
# (docs/performance.md, 'Measured figures'). Run: Rscript benches/maximal_polish.R (after a benches/run.py
# run has written the data to /tmp/mixedmodels-bench; the theta below is ours at git 1aebde4).
#
# Read the REML criterion with REMLcrit(), never deviance(m, REML = TRUE): on a REML fit lme4 1.1-31's
# deviance.merMod ignores REML = TRUE and returns the ML deviance at the REML estimates (7469.776 here,
# 9.9 below the REML criterion). An earlier version of this script printed that number as "lme4's
# polished optimum" and so reported our optimum as 1.3e-3 too high; it is lme4's polished optimum to 1e-14.
suppressMessages(library(lme4))
d <- read.csv("/tmp/mixedmodels-bench/maximal_60x40_seed20240505.csv", colClasses = c(subj = "factor", item = "factor"))

f <- y ~ A * B + (1 + A * B | subj) + (1 + A * B | item)
dev <- lmer(f, d, REML = TRUE, devFunOnly = TRUE)
ours <- c(1.0038441818984385,0.370018531235011,-0.2394081470481189,0.002968630912031079,0.49884965082480165,-0.02457928301153943,-0.03329689983835449,0.4387400139437774,0.1491733953736465,0.2793704685937186,0.7914830886206163,-0.31305145769417775,0.023109701834984064,0.012044469707837183,0.36073679886224513,0.13921996304383602,0.05474720060353179,0.18165276688722531,0.1619682731026768,0.14772343819749167)
print(sprintf("R's REML criterion at our theta: %.10f", dev(ours)))
m <- lmer(f, d, REML = TRUE, control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10)))
print(sprintf("bobyqa tight: REMLcrit %.10f after %d evaluations", REMLcrit(m), m@optinfo$feval))
print(sprintf("(deviance(m, REML = TRUE), the ML deviance at the REML estimates: %.10f)", deviance(m, REML = TRUE)))
print(sprintf("largest |theta - ours|: %.2g", max(abs(getME(m, "theta") - ours))))
m2 <- update(m, start = ours, control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhobeg = 1e-3, rhoend = 1e-12)))
print(sprintf("bobyqa from our theta: REMLcrit %.10f", REMLcrit(m2)))

# The level order of every factor column of the bundled datasets, as R's
# packages define them (tools/dataset_levels.json). The CSV files the
# datasets are built from lose it: read.csv sorts levels as strings
# ("1", "10", "11", ...), while lme4's cbpp has herd levels 1, 2, ..., 15.
# tools/make_datasets.py reads the JSON and stores a column whose order
# differs from the sorted one as a polars Enum in R's order.
#
#   Rscript tools/dataset_levels.R > tools/dataset_levels.json
suppressMessages({library(lme4); library(jsonlite)})
data(Machines, package = "nlme")
data(Chem97, package = "mlmRev")
data(dietox, package = "geepack")
datasets <- list(
  sleepstudy = sleepstudy, dyestuff = Dyestuff, dyestuff2 = Dyestuff2,
  penicillin = Penicillin, pastes = Pastes, cbpp = cbpp,
  grouseticks = grouseticks, grouseticks_std = grouseticks, insteval = InstEval,
  machines = as.data.frame(Machines), chem97 = Chem97, dietox = dietox
)
# A factor whose levels are numbers in increasing order is written as
# "numeric" (InstEval's 2972 students); any other order as the list of levels.
level_order <- function(f) {
  l <- levels(f)
  num <- suppressWarnings(as.numeric(l))
  if (!anyNA(num) && !is.unsorted(num)) "numeric" else l
}
levels_of <- function(d) {
  cols <- Filter(function(c) is.factor(d[[c]]), names(d))
  setNames(lapply(cols, function(c) list(order = level_order(d[[c]]), ordered = is.ordered(d[[c]]))), cols)
}
cat(toJSON(lapply(datasets, levels_of), auto_unbox = TRUE, pretty = TRUE), "\n")

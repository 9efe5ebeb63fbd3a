# Reference values for emergence.stats.supf (chow_test, supf_test F process) from strucchange.
# Run from the repository root:  Rscript tests/reference/strucchange.R
suppressPackageStartupMessages(library(strucchange))
set.seed(7)
rows <- list()
for (j in 1:6) {
  n <- c(10, 12, 15, 20, 9, 14)[j]
  x <- sort(runif(n, 7, 12))
  y <- 0.3 * x + ifelse(x > median(x), c(0, 0.5, 1, 0, 0.8, 0.2)[j], 0) + rnorm(n, sd = 0.3)
  h <- 3  # minimal segment size (points)
  fs <- Fstats(y ~ x, from = h, to = n - h)
  pt <- floor(n / 2)
  ch <- sctest(y ~ x, type = "Chow", point = pt)
  rows[[j]] <- data.frame(case = j, x = paste(sprintf("%.17g", x), collapse = ";"),
                          y = paste(sprintf("%.17g", y), collapse = ";"), h = h,
                          fstats = paste(sprintf("%.15g", as.numeric(fs$Fstats)), collapse = ";"),
                          chow_point = pt, chow_F = sprintf("%.15g", ch$statistic),
                          chow_p = sprintf("%.15g", ch$p.value),
                          r_call = "Fstats(y ~ x, from = h, to = n - h); sctest(y ~ x, type = 'Chow', point = pt)")
}
write.csv(do.call(rbind, rows), "tests/reference/strucchange_reference.csv", row.names = FALSE)
cat("written\n")

"""Statistical tests and intervals. Each test returns a frozen result object."""

"""Results: what is done with written evaluations, without JAX or environments. `scoring`
(returns -> expert- and human-normalized scores, success rates), `statistics` (IQM, mean,
median, optimality gap, profiles, P(A > B), success aggregates, with rliable's stratified-bootstrap
intervals), `figures`, `report` (JSON, CSV, tables, TensorBoard, GIFs), `runs` (several
evaluated runs: aggregate, read back), `compare` (`gato compare`), `curve` (`gato curve`),
`return_report` (the return study's tables). Below `gato.eval`, which writes what these read."""

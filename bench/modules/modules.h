/* The registration table of benchmark modules: one line per module. Each
 * line names a `const bench_module bench_module_<name>` defined in
 * bench/modules/<name>.c. The order here is the order of `bench list` and
 * of a full run. */
BENCH_MODULE(core_ops)
BENCH_MODULE(json)
BENCH_MODULE(network)
BENCH_MODULE(otel)
BENCH_MODULE(cache)
BENCH_MODULE(cache_serve)
BENCH_MODULE(batch)
BENCH_MODULE(pool)

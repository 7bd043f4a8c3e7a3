"""nanogen's benchmarks: each module runs with one command and prints its figures against their targets."""

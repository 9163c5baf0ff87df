"""Reports from what Tocsin recorded: where the noise comes from (`noise`), how the on-call
load is shared (`fairness`), and the weekly noise card (`weekly`)."""

"""Stage: the machine. CPU, GPU and software metadata, free memory, the measured peak rates."""

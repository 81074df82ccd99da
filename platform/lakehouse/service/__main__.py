"""`python -m lakehouse.service [--port N]`: the same as `lakehouse serve`."""
import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))

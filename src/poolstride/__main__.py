from poolstride.cli import run

run()

"""``python -m pyoptgra [plot.png]``: the demonstration of :mod:`pyoptgra.demo`."""

from .demo import main

if __name__ == "__main__":
    main()

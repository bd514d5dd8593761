"""``python -m webapp.cli``: the ``yizhan`` command."""

from webapp.cli import main

if __name__ == "__main__":
    main()

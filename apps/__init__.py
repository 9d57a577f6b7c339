"""The applications built on tinygrad_rnn: the ``tinygrad-rnn`` command line, its lesson runner, and
the tasks and data sets the lessons train on.

The repository keeps them in ``apps/`` and installs them as ``tinygrad_rnn.apps``, so the engine
package itself stays the library (it never imports this package).
"""

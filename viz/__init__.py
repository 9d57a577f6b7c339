"""viz: drawing for tinygrad_rnn (Graphviz graphs and matplotlib plots).

It depends on tinygrad_rnn's public graph API; tinygrad_rnn never imports it.
"""

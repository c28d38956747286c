"""Pure analysis of network measurements: the E-model (ITU-T G.107), delay, jitter and loss
statistics of the call-like stream and the loss probe, and the steady rate of a transfer.
Functions of recorded numbers only: no sockets, threads or clocks."""

"""The audio lab: a virtual microphone (a PulseAudio null sink's monitor) fed known signals."""

"""Audio style transfer and texture synthesis (Ulyanov and Lebedev 2016) on log-magnitude spectrograms.

``io`` reads, resamples, normalises and writes sound; ``spectrogram`` turns a waveform into a
log-magnitude spectrogram and back (Griffin-Lim); ``transfer`` holds the random-convolution features,
the objective and the chunked optimisation; ``api`` ties them together. Needs the ``[audio]`` extra.
"""

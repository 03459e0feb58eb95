"""hearthvox.audio: audio in and out.

- ``wavio``: load_wav, open_wav_stream (stdin), write_wav, WavWriter (atomic)
- ``wavformat``: the RIFF/WAVE parser and sample decoding they share
- ``resample``: int16/float helpers and soxr resampling (one-shot and streaming)
- ``buffers``: re-chunking into fixed-size blocks
- ``sources``: async AudioChunk sources (array, WAV stream, microphone)
- ``sinks``: the Sink protocol, NullSink, WavFileSink, SpeakerSink
- ``devices``: PortAudio device lookup (``sounddevice`` is imported lazily)
"""

"""Audio, pure: PCM16 and base64, resampling, G.711, bounded buffers and the wire formats.

:class:`RealtimeUtils` gathers the helpers the seed's ``RealtimeUtils`` names.
"""

from realtime_widget.audio.utils import RealtimeUtils

__all__ = ["RealtimeUtils"]

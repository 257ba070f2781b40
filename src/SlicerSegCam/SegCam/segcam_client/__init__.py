"""segcam_client: the Slicer-free Python client of the SegCam server (gRPC, protocol segcam.v1).

Imports only the standard library, numpy, grpc and google.protobuf, so 3D Slicer, scripts and CI run the same code.
Arrays are numpy (K, J, I) in C order (i fastest), geometry is LPS millimetres (see geometry.Geometry).

    from segcam_client import SegCamClient, Geometry, PixelSet
    with SegCamClient("127.0.0.1:5055") as client:
        volume = client.upload_volume(ct, geometry).volume_id
        result = client.compute_cam(volume, "demo-unet2d", "tumour", PixelSet.box((10, 10, 0), (30, 30, 4)))
"""

__version__ = "0.4.0"

from .client import PROTOCOL, SegCamClient, check_protocol  # noqa: E402
from .datatypes import (CamOptions, CamResult, Heatmap, HeatmapCompleted, HeatmapStarted, LayerInfo,  # noqa: E402
                        MetricsReceived, ModelInfo, Progress, SegmentResult, SegmentSummary, ServerInfo, ServerLimits,
                        SlabReceived, SliceSelection, Summary, Timings, UploadResult)
from .errors import InvalidInputError, SegCamError  # noqa: E402
from .geometry import Geometry  # noqa: E402
from .job import CamJob  # noqa: E402
from .pixelset import PixelSet  # noqa: E402

__all__ = [
    "__version__", "PROTOCOL", "SegCamClient", "check_protocol", "CamJob",
    "CamOptions", "CamResult", "Heatmap", "HeatmapCompleted", "HeatmapStarted", "LayerInfo", "MetricsReceived",
    "ModelInfo", "Progress",
    "SegmentResult", "SegmentSummary", "ServerInfo", "ServerLimits", "SlabReceived", "SliceSelection", "Summary",
    "Timings", "UploadResult", "InvalidInputError", "SegCamError", "Geometry", "PixelSet",
]

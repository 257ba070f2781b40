"""Helpers of the SegCam Slicer module.

Modules that touch Slicer (mrml_io, display, layouts, deps) import ``slicer``, ``qt`` and ``vtk`` inside their
functions, so every module here imports in plain Python and its pure parts are unit-tested without Slicer
(tests/viewer). Nothing here imports ``grpc`` or ``segcam_client`` at module scope: Slicer imports the module at
startup, before the dependencies may exist.
"""

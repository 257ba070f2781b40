"""Just enough of ``slicer``, ``qt``, ``vtk`` and ``ctk`` to import SegCam.py and drive its logic in plain Python.

Only the names SegCam.py touches at import time and in the logic paths the tests call exist; anything else raises
AttributeError, so a test that reaches real Slicer code fails loudly instead of passing on a stub.
"""

import sys
import types
import typing


class FakeNode:
    _ids = 0

    def __init__(self, name="node", cls="vtkMRMLScalarVolumeNode", scene=True):
        FakeNode._ids += 1
        self._id = f"{cls}{FakeNode._ids}"
        self._name = name
        self._attributes = {}
        self._scene = scene

    def GetID(self):
        return self._id

    def GetName(self):
        return self._name

    def SetName(self, name):
        self._name = name

    def GetScene(self):
        return object() if self._scene else None

    def SetAttribute(self, key, value):
        self._attributes[key] = value

    def GetAttribute(self, key):
        return self._attributes.get(key)

    def GetAttributeNames(self):
        return tuple(self._attributes)


class FakeScene:
    StartCloseEvent = 1
    EndCloseEvent = 2

    def __init__(self):
        self.nodes = {}

    def add(self, node):
        self.nodes[node.GetID()] = node
        return node

    def GetNodeByID(self, node_id):
        return self.nodes.get(node_id)


class _Base:
    def __init__(self, *args, **kwargs):
        pass


class ScriptedLoadableModuleLogic(_Base):
    def getParameterNode(self):
        return sys.modules["slicer"]._parameter_node


def parameterNodeWrapper(cls):
    """A plain attribute holder with the class's defaults (node fields default to None)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    defaults = {name: getattr(cls, name, None) for name in hints}

    class Wrapped:
        def __init__(self, node):
            self.parameterNode = node
            for name, value in defaults.items():
                setattr(self, name, value)

    Wrapped.__name__ = cls.__name__
    Wrapped.annotations = hints
    return Wrapped


class VTKObservationMixin:
    def __init__(self):
        self.observations = []

    def addObserver(self, obj, event, method, *args):
        self.observations.append((obj, event, method))

    def removeObservers(self, *args):
        self.observations.clear()

    def removeObserver(self, *args):
        pass


def install():
    """Put the stubs in sys.modules; returns a function that restores what was there before."""
    saved = {name: sys.modules.get(name) for name in (
        "slicer", "slicer.ScriptedLoadableModule", "slicer.util", "slicer.parameterNodeWrapper", "slicer.i18n",
        "qt", "vtk", "ctk")}

    slicer = types.ModuleType("slicer")
    slicer.vtkMRMLScalarVolumeNode = type("vtkMRMLScalarVolumeNode", (), {})
    slicer.vtkMRMLSegmentationNode = type("vtkMRMLSegmentationNode", (), {})
    slicer.mrmlScene = FakeScene()
    slicer._parameter_node = object()
    slicer.app = types.SimpleNamespace(connect=lambda *a: None, testingEnabled=lambda: True)

    scripted = types.ModuleType("slicer.ScriptedLoadableModule")
    scripted.ScriptedLoadableModule = _Base
    scripted.ScriptedLoadableModuleWidget = _Base
    scripted.ScriptedLoadableModuleLogic = ScriptedLoadableModuleLogic
    scripted.ScriptedLoadableModuleTest = _Base

    util = types.ModuleType("slicer.util")
    util.VTKObservationMixin = VTKObservationMixin

    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.parameterNodeWrapper = parameterNodeWrapper
    wrapper.WithinRange = lambda low, high: ("WithinRange", low, high)
    wrapper.Choice = lambda choices: ("Choice", tuple(choices))

    i18n = types.ModuleType("slicer.i18n")
    i18n.tr = lambda text: text
    i18n.translate = lambda context, text: text

    slicer.ScriptedLoadableModule = scripted
    slicer.util = util
    slicer.parameterNodeWrapper = wrapper
    slicer.i18n = i18n
    modules = {"slicer": slicer, "slicer.ScriptedLoadableModule": scripted, "slicer.util": util,
               "slicer.parameterNodeWrapper": wrapper, "slicer.i18n": i18n,
               "qt": types.ModuleType("qt"), "vtk": types.ModuleType("vtk"), "ctk": types.ModuleType("ctk")}
    modules["vtk"].vtkCommand = types.SimpleNamespace(ModifiedEvent=33)
    sys.modules.update(modules)

    def restore():
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        sys.modules.pop("SegCam", None)

    return restore

"""SegCam: class activation maps of ONNX segmentation models, computed by a SegCam server, shown in Slicer.

Layout of the module (docs: VIEWER.md):

* ``SegCam``: module metadata; registers the settings panel after startup (no network, no pip).
* ``SegCamParameterNode``: typed parameters saved with the scene (never a token or other secret).
* ``SegCamWidget``: wires the .ui to the logic; no computation.
* ``SegCamLogic``: connection, export, jobs, display and saving; usable from the Python console without the widget.
* ``SegCamTest``: self-test on synthetic data and, when grpc is installed, an in-process server on 127.0.0.1.

``grpc`` and ``segcam_client`` are imported inside methods only: Slicer imports every module at startup, before the
dependencies may be installed, and an import error there would disable the module.
"""

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Dict, List, Optional

import numpy as np
import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from SegCamLib import display, feedback, layouts, mrml_io, provenance
from SegCamLib.pump import MessagePump, start_worker
from SegCamLib.run import DONE, CamRun, RunRequest
from SegCamLib.session import UploadCache, UploadKey, geometry_hash
from SegCamLib.settings import (
    INFO_TIMEOUT_S,
    KEY_CA_FILE,
    KEY_TIMEOUT,
    KEY_TOKEN_FILE,
    KEY_WHEELS,
    SegCamSettings,
    TokenSource,
    consent_text,
    is_loopback,
    normalize_endpoint,
    plaintext_warning,
)
from SegCamLib.worker import CamTask, CancelToken, run_cam_task

PLUGIN_VERSION = "0.4.0"

METHOD_LABELS = {
    "seg-grad-cam": "Seg-Grad CAM",
    "seg-hires-grad-cam": "Seg-HiRes-Grad CAM",
    "seg-xres-cam": "Seg-XRes-CAM",
    "seg-grad-cam-pp": "Seg-Grad-CAM++",
    "seg-xgrad-cam": "Seg-XGrad-CAM",
    "seg-layer-cam": "Seg-LayerCAM",
    "seg-eigen-cam": "Seg-Eigen-CAM",
}
DEFAULT_METHOD = "seg-hires-grad-cam"
DEFAULT_COMPARE_METHOD = "seg-grad-cam"
# Status codes the user can only wait for or retry: shown in the status line, not in a dialog (VIEWER.md §10).
STATUS_LINE_CODES = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED")

logger = logging.getLogger(__name__)


#
# SegCam
#


class SegCam(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("SegCam")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = ["SegCam contributors"]
        self.parent.helpText = _(
            "Class activation maps (Seg-HiRes-Grad CAM, Seg-Grad CAM and related methods) that show which voxels a "
            "segmentation model used for a segmented region. The maps are computed by a SegCam server, on this "
            "computer or on a GPU server, and stream back slab by slab. See "
            '<a href="https://github.com/segcam/SlicerSegCam">the project page</a>.'
        )
        self.parent.acknowledgementText = _(
            "Seg-HiRes-Grad CAM follows Rheude et al.; Seg-Grad CAM follows Vinogradova et al. (2020)."
        )
        slicer.app.connect("startupCompleted()", registerSettingsPanel)


_settingsPanel = None


def registerSettingsPanel():
    """Application Settings → SegCam: CA bundle, token file, timeout, wheel folder, forget consents."""
    global _settingsPanel
    if _settingsPanel is not None or not slicer.app.settingsDialog():
        return
    _settingsPanel = SegCamSettingsPanel()
    slicer.app.settingsDialog().addPanel("SegCam", _settingsPanel.panel)


class SegCamSettingsPanel:
    def __init__(self):
        import ctk

        self.panel = ctk.ctkSettingsPanel()
        form = qt.QFormLayout(self.panel)

        caFile = ctk.ctkPathLineEdit()
        caFile.filters = ctk.ctkPathLineEdit.Files
        caFile.toolTip = _("PEM bundle of the certificate authorities that signed the server's TLS certificate.")
        form.addRow(_("CA bundle:"), caFile)
        self.panel.registerProperty(KEY_CA_FILE, caFile, "currentPath", str(qt.SIGNAL("currentPathChanged(QString)")))

        tokenFile = ctk.ctkPathLineEdit()
        tokenFile.filters = ctk.ctkPathLineEdit.Files
        tokenFile.toolTip = _("File holding the API token (readable by you only). The token itself is never stored.")
        form.addRow(_("Token file:"), tokenFile)
        self.panel.registerProperty(
            KEY_TOKEN_FILE, tokenFile, "currentPath", str(qt.SIGNAL("currentPathChanged(QString)"))
        )

        timeout = qt.QSpinBox()
        timeout.setRange(10, 24 * 3600)
        timeout.setValue(900)
        timeout.suffix = " s"
        form.addRow(_("Compute timeout:"), timeout)
        self.panel.registerProperty(KEY_TIMEOUT, timeout, "value", str(qt.SIGNAL("valueChanged(int)")))

        wheels = ctk.ctkPathLineEdit()
        wheels.filters = ctk.ctkPathLineEdit.Dirs
        wheels.toolTip = _("Install grpcio and protobuf from this folder of wheels instead of the internet.")
        form.addRow(_("Wheel folder:"), wheels)
        self.panel.registerProperty(KEY_WHEELS, wheels, "currentPath", str(qt.SIGNAL("currentPathChanged(QString)")))

        forget = qt.QPushButton(_("Forget consents and plaintext opt-ins"))
        forget.connect("clicked()", lambda: SegCamSettings().forget_remote_choices())
        form.addRow("", forget)


#
# SegCamParameterNode
#


@parameterNodeWrapper
class SegCamParameterNode:
    """Saved with the scene, so scenes can be shared: no token, no endpoint credentials."""

    inputVolume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    segmentId: str = ""
    groundTruthSegmentId: str = ""
    model: str = ""
    targetClass: str = ""
    layer: str = ""
    method: str = DEFAULT_METHOD
    compareMethod: str = DEFAULT_COMPARE_METHOD
    compare: bool = True
    threshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.2
    opacity: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    colormap: Annotated[str, Choice(list(display.COLORMAPS))] = display.DEFAULT_COLORMAP
    interpolate: bool = False
    followStream: bool = False
    outputA: vtkMRMLScalarVolumeNode
    outputB: vtkMRMLScalarVolumeNode


#
# SegCamWidget
#


class SegCamWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._filling = False

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SegCam.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = SegCamLogic()
        self.logic.listeners.append(self.onRunEvent)

        settings = self.logic.settings
        pinned = settings.pinned_endpoint()
        self.ui.endpointComboBox.addItems([pinned] if pinned else settings.endpoint_history() or [settings.default_endpoint()])
        self.ui.endpointComboBox.setCurrentText(settings.default_endpoint())
        if pinned:
            self.ui.endpointComboBox.enabled = False
            self.ui.endpointComboBox.toolTip = _("Set by the SEGCAM_ENDPOINT environment variable.")
        self.ui.colormapComboBox.addItems(list(display.COLORMAPS))
        self.ui.saveFormatComboBox.addItem("NRRD", ".nrrd")
        self.ui.saveFormatComboBox.addItem("NIfTI", ".nii.gz")
        self.ui.outputDirectoryButton.directory = qt.QDir.homePath()
        self.ui.progressBar.hide()
        self.ui.metricsTableWidget.hide()

        self.ui.connectButton.connect("clicked(bool)", self.onConnect)
        self.ui.computeButton.connect("clicked(bool)", self.onComputeOrCancel)
        self.ui.modelComboBox.connect("currentIndexChanged(int)", self.onModelChanged)
        self.ui.classComboBox.connect("currentIndexChanged(int)", self.onChoiceChanged)
        self.ui.layerComboBox.connect("currentIndexChanged(int)", self.onChoiceChanged)
        self.ui.methodComboBox.connect("currentIndexChanged(int)", self.onChoiceChanged)
        self.ui.compareMethodComboBox.connect("currentIndexChanged(int)", self.onChoiceChanged)
        self.ui.groundTruthComboBox.connect("currentIndexChanged(int)", self.onChoiceChanged)
        self.ui.segmentSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.onSegmentationChanged)
        self.ui.segmentSelector.connect("currentSegmentChanged(QString)", self.onChoiceChanged)
        self.ui.colormapComboBox.connect("currentIndexChanged(int)", self.onChoiceChanged)
        self.ui.restoreLayoutButton.connect("clicked(bool)", self.onRestoreLayout)
        self.ui.differenceButton.connect("clicked(bool)", self.onDifference)
        self.ui.thresholdSegmentButton.connect("clicked(bool)", self.onThresholdSegment)
        self.ui.saveButton.connect("clicked(bool)", self.onSave)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()
        self.updateButtons()

    def cleanup(self) -> None:
        """Module reload or application exit: cancel jobs and stop the timer."""
        self.removeObservers()
        if self.logic is not None:
            self.logic.shutdown()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        # Running jobs go on while the user visits other modules; only the GUI binding is released.
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)

    def onSceneStartClose(self, caller, event) -> None:
        # The logic cancels running jobs itself (it observes the scene too).
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()
        self.updateButtons()

    # -- parameter node -----------------------------------------------------------------------------------------

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first:
                self._parameterNode.inputVolume = first

    def setParameterNode(self, inputParameterNode: Optional[SegCamParameterNode]) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.onParameterNodeModified)
            self._filling = True
            try:
                if self._parameterNode.segmentation:
                    self.ui.segmentSelector.setCurrentNode(self._parameterNode.segmentation)
                    self.ui.segmentSelector.setCurrentSegmentID(self._parameterNode.segmentId)
                self.ui.colormapComboBox.setCurrentText(self._parameterNode.colormap)
            finally:
                self._filling = False
            self.fillGroundTruth()
        self.updateButtons()

    def onParameterNodeModified(self, caller=None, event=None) -> None:
        if self._parameterNode:
            self.logic.setDisplayOptions(
                colormap=self._parameterNode.colormap,
                threshold=self._parameterNode.threshold,
                opacity=self._parameterNode.opacity,
                interpolate=self._parameterNode.interpolate,
                followStream=self._parameterNode.followStream,
            )
        self.updateButtons()

    # -- server ---------------------------------------------------------------------------------------------------

    def onConnect(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Connecting to the SegCam server failed."), waitCursor=False):
            self.connectToServer()

    def connectToServer(self, askedForToken: bool = False, askedForPlaintext: bool = False) -> None:
        if not self.logic.ensureDependencies():
            self.ui.serverStatusLabel.text = _("grpcio and protobuf are needed to connect; they were not installed.")
            return
        token = self.ui.tokenLineEdit.text.strip()
        if token:
            self.logic.tokens.set(token)
        self.ui.serverStatusLabel.text = _("Connecting…")
        slicer.app.processEvents(qt.QEventLoop.ExcludeUserInputEvents)  # show the text; user input stays queued
        try:
            connection = self.logic.connect(self.ui.endpointComboBox.currentText)
        except Exception as error:
            if feedback.is_status(error, "UNAUTHENTICATED", "PERMISSION_DENIED") and not askedForToken:
                token = self.askForToken()
                if token:
                    self.logic.tokens.set(token)
                    self.connectToServer(True, askedForPlaintext)
                    return
            endpoint = normalize_endpoint(self.ui.endpointComboBox.currentText)[0]
            if (feedback.is_status(error, "UNAVAILABLE") and not askedForPlaintext
                    and self.logic.settings.uses_tls(endpoint)
                    and slicer.util.confirmYesNoDisplay(plaintext_warning(endpoint), windowTitle=_("SegCam"))):
                self.logic.settings.set_plaintext_allowed(endpoint, True)  # per endpoint, cleared in Settings
                self.connectToServer(askedForToken, True)
                return
            if feedback.status_name(error):
                self.clearServerChoices()
                self.reportError(error, self.ui.serverStatusLabel)
                return
            self.ui.serverStatusLabel.text = _("Not connected.")
            raise
        self.showConnection(connection)

    def askForToken(self) -> Optional[str]:
        text = qt.QInputDialog.getText(
            slicer.util.mainWindow(), _("SegCam"), _("The server asks for an API token:"), qt.QLineEdit.Password
        )
        return text.strip() if text and text.strip() else None

    def showConnection(self, connection) -> None:
        info = connection.info
        lines = [
            _("Connected to {endpoint} ({transport}): SegCam server {version}, {provider}.").format(
                endpoint=connection.endpoint,
                transport=_("TLS") if connection.tls else _("plaintext, this computer"),
                version=info.version,
                provider=info.execution_provider,
            )
        ]
        if getattr(info, "device_note", ""):
            lines.append(info.device_note)
        lines.extend(connection.notes)
        self.ui.serverStatusLabel.text = "\n".join(lines)
        endpoints = self.logic.settings.endpoint_history()
        self._filling = True
        try:
            self.ui.endpointComboBox.clear()
            self.ui.endpointComboBox.addItems(endpoints or [connection.endpoint])
            self.ui.endpointComboBox.setCurrentText(connection.endpoint)
            self.fillCombo(self.ui.modelComboBox, [(m.name or m.id, m.id) for m in connection.models],
                           self._parameterNode.model if self._parameterNode else "")
            methods = [(METHOD_LABELS.get(m, m), m) for m in info.methods]
            self.fillCombo(self.ui.methodComboBox, methods,
                           self._parameterNode.method if self._parameterNode else DEFAULT_METHOD)
            self.fillCombo(self.ui.compareMethodComboBox, methods,
                           self._parameterNode.compareMethod if self._parameterNode else DEFAULT_COMPARE_METHOD)
        finally:
            self._filling = False
        self.onModelChanged()

    def clearServerChoices(self, keepServer: bool = False) -> None:
        self._filling = True
        try:
            for combo in (self.ui.modelComboBox, self.ui.classComboBox, self.ui.layerComboBox):
                combo.clear()
            if not keepServer:
                self.ui.methodComboBox.clear()
                self.ui.compareMethodComboBox.clear()
                self.ui.modelInfoLabel.text = ""
        finally:
            self._filling = False
        if keepServer and self.logic.connection is not None:
            self.showConnection(self.logic.connection)
        self.updateButtons()

    @staticmethod
    def fillCombo(combo, items, current: str = "") -> None:
        combo.clear()
        for label, data in items:
            combo.addItem(label, data)
        index = combo.findData(current) if current else -1
        combo.setCurrentIndex(index if index >= 0 else (0 if items else -1))

    def onModelChanged(self, index=None) -> None:
        if self._filling:
            return
        model = self.logic.model(self.ui.modelComboBox.currentData)
        self._filling = True
        try:
            if model is None:
                self.ui.classComboBox.clear()
                self.ui.layerComboBox.clear()
                self.ui.modelInfoLabel.text = ""
            else:
                node = self._parameterNode
                classes = [(name, name) for name in model.classes]
                self.fillCombo(self.ui.classComboBox, classes, node.targetClass if node else "")
                if (node is None or not node.targetClass) and len(classes) > 1:
                    self.ui.classComboBox.setCurrentIndex(len(classes) - 1)  # usually the lesion, not background
                layers = [(f"{layer.role} — {layer.name}" if layer.role else layer.name, layer.name)
                          for layer in model.layers]
                self.fillCombo(self.ui.layerComboBox, layers, (node.layer if node else "") or model.default_layer)
                self.ui.modelInfoLabel.text = _("{dims}-D model, {count} classes; default layer {layer}.").format(
                    dims=model.dimensionality, count=len(model.classes), layer=model.default_layer
                )
        finally:
            self._filling = False
        self.onChoiceChanged()

    # -- inputs -----------------------------------------------------------------------------------------------------

    def onSegmentationChanged(self, node=None) -> None:
        if not self._filling and self._parameterNode:
            self._parameterNode.segmentation = self.ui.segmentSelector.currentNode()
        self.fillGroundTruth()
        self.onChoiceChanged()

    def fillGroundTruth(self) -> None:
        segmentation = self.ui.segmentSelector.currentNode()
        items = [(_("(none)"), "")]
        if segmentation is not None:
            seg = segmentation.GetSegmentation()
            for i in range(seg.GetNumberOfSegments()):
                segmentId = seg.GetNthSegmentID(i)
                items.append((seg.GetSegment(segmentId).GetName(), segmentId))
        was = self._filling
        self._filling = True
        try:
            self.fillCombo(self.ui.groundTruthComboBox, items,
                           self._parameterNode.groundTruthSegmentId if self._parameterNode else "")
        finally:
            self._filling = was

    def onChoiceChanged(self, *args) -> None:
        if self._filling or not self._parameterNode:
            self.updateButtons()
            return
        node = self._parameterNode
        node.segmentation = self.ui.segmentSelector.currentNode()
        node.segmentId = self.ui.segmentSelector.currentSegmentID() or ""
        node.groundTruthSegmentId = self.ui.groundTruthComboBox.currentData or ""
        node.model = self.ui.modelComboBox.currentData or ""
        node.targetClass = self.ui.classComboBox.currentData or ""
        node.layer = self.ui.layerComboBox.currentData or ""
        node.method = self.ui.methodComboBox.currentData or DEFAULT_METHOD
        node.compareMethod = self.ui.compareMethodComboBox.currentData or DEFAULT_COMPARE_METHOD
        if self.ui.colormapComboBox.currentText in display.COLORMAPS:
            node.colormap = self.ui.colormapComboBox.currentText
        self.updateButtons()

    # -- compute ------------------------------------------------------------------------------------------------------

    def updateButtons(self) -> None:
        if not hasattr(self, "ui") or self.logic is None:
            return
        running = self.logic.isRunning()
        node = self._parameterNode
        ready = bool(
            node and node.inputVolume and node.segmentation and node.segmentId and node.model and node.targetClass
            and self.logic.connection is not None
        )
        self.ui.computeButton.text = _("Cancel") if running else _("Compute")
        self.ui.computeButton.enabled = running or ready
        self.ui.computeButton.toolTip = (
            _("Stop the computation; the part already received is kept, marked (partial).")
            if running
            else (_("Compute the heatmaps.") if ready else _("Connect, then choose the CT, a segment, model and class."))
        )
        self.ui.connectButton.enabled = not running
        self.ui.compareMethodComboBox.enabled = bool(node and node.compare)
        outputs = self.currentOutputs()
        self.ui.saveButton.enabled = bool(outputs) and not running
        self.ui.differenceButton.enabled = len(outputs) == 2 and not running
        self.ui.thresholdSegmentButton.enabled = bool(outputs) and bool(node and node.segmentation)
        self.ui.restoreLayoutButton.enabled = self.logic.previousLayout is not None

    def currentOutputs(self) -> List[Any]:
        node = self._parameterNode
        if not node:
            return []
        return [output for output in (node.outputA, node.outputB) if output is not None]

    def onComputeOrCancel(self) -> None:
        if self.logic.isRunning():
            self.logic.cancel()
            self.ui.statusLabel.text = _("Cancelling…")
            return
        with slicer.util.tryWithErrorDisplay(_("Starting the computation failed."), waitCursor=False):
            node = self._parameterNode
            methods = [node.method]
            if node.compare and node.compareMethod and node.compareMethod != node.method:
                methods.append(node.compareMethod)
            inputs = self.logic.exportInputs(
                node.inputVolume, node.segmentation, node.segmentId, node.groundTruthSegmentId or None
            )
            for warning in inputs.warnings:
                logger.warning(warning)
            run = self.logic.startJob(
                inputs, model=node.model, targetClass=node.targetClass, methods=methods,
                layers=[node.layer] if node.layer else [],
            )
            if run is None:
                self.ui.statusLabel.text = _("Not sent: no consent to send data to this server.")
                return
            self.ui.metricsTableWidget.hide()
            self.ui.progressBar.setRange(0, 0)
            self.ui.progressBar.show()
            self.ui.statusLabel.text = " ".join([_("Starting…")] + inputs.warnings)
        self.updateButtons()

    def onRunEvent(self, run: CamRun, kind: str) -> None:
        """Logic → widget: progress, new heatmaps, the end of a run (main thread, once per tick at most)."""
        if kind == "uploaded":
            self.ui.statusLabel.text = _("CT on the server (reused).") if not run.uploaded_fresh else _("CT uploaded.")
        elif kind == "progress" and run.progress is not None:
            fraction = feedback.progress_fraction(run.progress)
            if fraction is None:
                self.ui.progressBar.setRange(0, 0)
            else:
                self.ui.progressBar.setRange(0, 1000)
                self.ui.progressBar.setValue(int(fraction * 1000))
            self.ui.statusLabel.text = feedback.format_progress(run.progress)
        elif kind == "heatmap":
            outputs = [slot.node for slot in run.slot_list()]
            if self._parameterNode:
                self._parameterNode.outputA = outputs[0] if outputs else None
                self._parameterNode.outputB = outputs[1] if len(outputs) > 1 else None
        elif kind == "metrics":
            self.showMetrics(run)
        elif run.finished:
            self.ui.progressBar.hide()
            seconds = (run.finished_at or time.monotonic()) - run.started
            if run.state == DONE:
                self.ui.statusLabel.text = _("Done in {seconds:.1f} s (request {rid}).").format(
                    seconds=seconds, rid=run.request_id or "-")
                self.showMetrics(run)
            elif run.state == "cancelled":
                self.ui.statusLabel.text = _("Cancelled; what arrived is kept and marked (partial).")
            else:
                self.reportError(run.failure.error, self.ui.statusLabel, run.failure)
        self.updateButtons()

    def reportError(self, error, label, failure=None) -> None:
        """Status line for what the user can only wait for or retry; a dialog for what needs a decision."""
        endpoint = self.logic.endpoint or ""
        text = failure.user_text if failure else feedback.user_message(error, endpoint)
        details = failure.detail if failure else feedback.detail_text(error)
        status = feedback.status_name(error)
        if status == "CANCELLED":
            return
        requestId = getattr(error, "request_id", "")
        label.text = text + (f" (request {requestId})" if requestId else "")
        if status not in STATUS_LINE_CODES:
            slicer.util.errorDisplay(text, detailedText=details)

    def showMetrics(self, run: CamRun) -> None:
        rows = run.metrics_rows()
        table = self.ui.metricsTableWidget
        if not rows:
            table.hide()
            return
        headers = [_("Method"), _("Layer"), _("Energy inside"), _("Mean Dice"), _("AUPRC")]
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [METHOD_LABELS.get(row["method"], row["method"]), row["layer"],
                      f"{row['energy_inside']:.3f}", f"{row['mean_dice']:.3f}", f"{row['auprc']:.3f}"]
            for c, value in enumerate(values):
                table.setItem(r, c, qt.QTableWidgetItem(value))
        table.resizeColumnsToContents()
        table.show()

    # -- results ------------------------------------------------------------------------------------------------------

    def onRestoreLayout(self) -> None:
        self.logic.restoreLayout()
        self.updateButtons()

    def onDifference(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Computing A − B failed."), waitCursor=True):
            node = self._parameterNode
            self.logic.createDifference(node.inputVolume, node.outputA, node.outputB)

    def onThresholdSegment(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Creating the segment failed."), waitCursor=True):
            node = self._parameterNode
            segmentId, share = self.logic.thresholdToSegment(
                node.outputA, node.segmentation, node.inputVolume, node.segmentId
            )
            if share is not None:
                self.ui.statusLabel.text = _("{share:.1%} of heatmap A's energy lies inside the explained segment.").format(
                    share=share)

    def onSave(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Saving the heatmaps failed."), waitCursor=True):
            directory = self.ui.outputDirectoryButton.directory
            extension = self.ui.saveFormatComboBox.currentData
            saved = [self.logic.save(output, directory, extension)[0] for output in self.currentOutputs()]
            self.ui.statusLabel.text = _("Saved: {files}").format(files=", ".join(os.path.basename(p) for p in saved))


#
# SegCamLogic
#


@dataclass
class Connection:
    endpoint: str
    tls: bool
    info: Any
    models: List[Any]
    notes: List[str] = field(default_factory=list)


@dataclass
class ExportedInputs:
    """Copies made on the main thread; the worker only ever sees these."""

    volumeNodeId: str
    ctName: str
    array: np.ndarray
    ijkToRas: np.ndarray
    dims: tuple
    geometry: Any
    mask: np.ndarray
    segmentId: str
    groundTruth: Optional[np.ndarray] = None
    groundTruthSegmentId: str = ""
    warnings: List[str] = field(default_factory=list)
    imageMTime: int = 0


@dataclass
class DisplayOptions:
    colormap: str = display.DEFAULT_COLORMAP
    threshold: float = 0.2
    opacity: float = 0.5
    interpolate: bool = False
    followStream: bool = False
    compareCoronal: bool = False


class SegCamLogic(ScriptedLoadableModuleLogic, VTKObservationMixin):
    """Everything the module does, without widgets. From the Python console:

    >>> logic = slicer.modules.segcam.widgetRepresentation().self().logic  # or SegCamLogic()
    >>> logic.ensureDependencies(); logic.connect("127.0.0.1:5055")
    >>> inputs = logic.exportInputs(ctNode, segNode, segmentId)
    >>> run = logic.startJob(inputs, model="demo-unet3d", targetClass="tumour",
    ...                      methods=["seg-hires-grad-cam", "seg-grad-cam"])
    >>> logic.waitForRun(run)   # scripts only: the module itself never blocks
    """

    def __init__(self, settingsStore=None, environ=None, timerFactory=None) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        VTKObservationMixin.__init__(self)
        self.settings = SegCamSettings(settingsStore, environ)
        self.tokens = TokenSource(self.settings)
        self.client = None
        self.connection: Optional[Connection] = None
        self.uploads = UploadCache()
        self.pump = MessagePump(self.applyMessage, self._flush, timer_factory=timerFactory)
        self.runs: Dict[int, CamRun] = {}
        self.displayOptions = DisplayOptions()
        self.listeners: List[Callable[[CamRun, str], None]] = []
        self.previousLayout: Optional[int] = None
        self.consentPrompt: Optional[Callable[[str, bool], bool]] = None
        self.offMainThreadWrites = 0
        self._following: Dict[int, Optional[float]] = {}
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self._onSceneStartClose)

    def getParameterNode(self) -> SegCamParameterNode:
        return SegCamParameterNode(super().getParameterNode())

    @staticmethod
    def resourcePath(relativePath: str) -> str:
        return os.path.join(os.path.dirname(__file__), "Resources", relativePath)

    @property
    def endpoint(self) -> Optional[str]:
        return self.connection.endpoint if self.connection else None

    # -- dependencies and connection -----------------------------------------------------------------------------

    def ensureDependencies(self) -> bool:
        """grpcio and protobuf present (asks before installing; installs nothing in testing mode)."""
        from SegCamLib import deps

        path = self.resourcePath("requirements.txt")
        with open(path, encoding="utf-8") as handle:
            if not deps.find_missing(deps.parse_requirements(handle.read())):
                return True
        return deps.ensure_dependencies(path, wheel_folder=self.settings.wheel_folder())

    def connect(self, endpoint: str, token: Optional[str] = None, caFile: Optional[str] = None) -> Connection:
        """Ask the server for its info and models; keeps the client for later jobs."""
        from segcam_client import SegCamClient

        endpoint, notes = normalize_endpoint(endpoint)
        tls = self.settings.uses_tls(endpoint)
        client = SegCamClient(
            endpoint=endpoint,
            token=token if token is not None else self.tokens.token(),
            ca_file=caFile or self.settings.ca_file(),
            allow_insecure_remote=not tls and not is_loopback(endpoint),
        )
        try:
            info = client.server_info(timeout=INFO_TIMEOUT_S)
            compatible, note = feedback.check_server_version(info.version, PLUGIN_VERSION)
            if not compatible:
                raise ValueError(note)
            if note:
                notes.append(note)
            models = list(client.list_models())
        except Exception:
            client.close()
            raise
        if self.connection is None or self.connection.endpoint != endpoint:
            self.uploads.clear()
        self._closeClient()
        self.client = client
        self.connection = Connection(endpoint, tls, info, models, notes)
        self.settings.remember_endpoint(endpoint)
        return self.connection

    def disconnect(self) -> None:
        self.cancel()
        self._closeClient()
        self.connection = None
        self.uploads.clear()

    def _closeClient(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def model(self, modelId: Optional[str]):
        if not self.connection or not modelId:
            return None
        return next((m for m in self.connection.models if m.id == modelId), None)

    def requestConsent(self, endpoint: str, tls: bool) -> bool:
        """Before the first upload to a non-loopback server (remembered per endpoint and TLS mode)."""
        if is_loopback(endpoint) or self.settings.has_consent(endpoint, tls):
            return True
        prompt = self.consentPrompt or (
            lambda e, t: slicer.util.confirmYesNoDisplay(consent_text(e, t), windowTitle=_("SegCam: send data?"))
        )
        if not prompt(endpoint, tls):
            return False
        self.settings.give_consent(endpoint, tls)
        return True

    # -- inputs ---------------------------------------------------------------------------------------------------

    def exportInputs(self, volumeNode, segmentationNode, segmentId: str,
                     groundTruthSegmentId: Optional[str] = None) -> ExportedInputs:
        """CT voxels, geometry (LPS) and the segment mask on the CT's grid, copied on the main thread."""
        from segcam_client import Geometry

        if volumeNode is None:
            raise ValueError(_("Select a CT volume."))
        array, ijkToRas, dims = mrml_io.export_volume(volumeNode)
        mask, warnings = mrml_io.segment_mask(segmentationNode, segmentId, volumeNode)
        groundTruth = None
        if groundTruthSegmentId:
            groundTruth, more = mrml_io.segment_mask(segmentationNode, groundTruthSegmentId, volumeNode)
            warnings += more
        return ExportedInputs(
            volumeNodeId=volumeNode.GetID(),
            ctName=volumeNode.GetName(),
            array=array,
            ijkToRas=ijkToRas,
            dims=dims,
            geometry=Geometry.from_ijk_to_ras(ijkToRas, dims),
            mask=mask,
            segmentId=segmentId,
            groundTruth=groundTruth,
            groundTruthSegmentId=groundTruthSegmentId or "",
            warnings=warnings,
            imageMTime=mrml_io.image_mtime(volumeNode),
        )

    def uploadKey(self, inputs: ExportedInputs) -> UploadKey:
        return UploadKey(
            self.endpoint or "",
            inputs.volumeNodeId,
            inputs.imageMTime,
            geometry_hash(inputs.ijkToRas, inputs.dims, str(inputs.array.dtype)),
        )

    # -- jobs -----------------------------------------------------------------------------------------------------

    def isRunning(self) -> bool:
        return any(not run.finished for run in self.runs.values())

    def startJob(self, inputs: ExportedInputs, model: str, targetClass: str, methods: List[str],
                 layers: Optional[List[str]] = None, options: Any = None) -> Optional[CamRun]:
        """Start a Compute on a worker thread; returns its run (None when the user refused consent)."""
        from segcam_client import PixelSet

        if self.client is None or self.connection is None:
            raise RuntimeError(_("Connect to a SegCam server first."))
        if self.isRunning():
            raise RuntimeError(_("A computation is already running; cancel it first."))
        if not self.requestConsent(self.connection.endpoint, self.connection.tls):
            return None
        key = self.uploadKey(inputs)
        token = CancelToken()
        jobId = self.pump.open_job()
        request = RunRequest(
            endpoint=self.connection.endpoint,
            ct_node_id=inputs.volumeNodeId,
            ct_name=inputs.ctName,
            model=model,
            target_class=targetClass,
            methods=list(methods),
            layers=list(layers or []),
            server_version=str(self.connection.info.version),
            segment_id=inputs.segmentId,
            ground_truth_segment_id=inputs.groundTruthSegmentId,
        )
        run = CamRun(jobId, request, sink=self, token=token, ct_geometry=inputs.geometry)
        run.uploadKey = key
        self.runs = {jobId: run, **{i: r for i, r in self.runs.items() if not r.finished}}
        self._following[jobId] = None
        task = CamTask(
            client=self.client,
            endpoint=self.connection.endpoint,
            volume=inputs.array,
            geometry=inputs.geometry,
            model=model,
            target_class=targetClass,
            pixel_set=PixelSet.mask(inputs.mask),
            methods=list(methods),
            layers=list(layers or []),
            options=options,
            ground_truth=PixelSet.mask(inputs.groundTruth) if inputs.groundTruth is not None else None,
            timeout=self.settings.compute_timeout(),
            cached_volume_id=self.uploads.get(key),
        )
        start_worker(f"SegCam-job-{jobId}", lambda: run_cam_task(task, self.pump.poster(jobId), token))
        return run

    def cancel(self, run: Optional[CamRun] = None) -> None:
        """Cancel one run or all running ones; each ends when the worker confirms."""
        for candidate in [run] if run is not None else list(self.runs.values()):
            if not candidate.finished:
                candidate.cancel()

    def waitForRun(self, run: CamRun, timeout: float = 900.0) -> CamRun:
        """Block until ``run`` ends, draining messages here (console scripts and tests; the GUI never calls it)."""
        deadline = time.monotonic() + timeout
        while not run.finished:
            if time.monotonic() > deadline:
                self.cancel(run)
                raise TimeoutError(f"SegCam job {run.job_id} did not finish in {timeout:g} s")
            if not self.pump.drain():
                time.sleep(0.01)
        return run

    def shutdown(self) -> None:
        """Cancel every run and stop the timer (module cleanup)."""
        for run in self.runs.values():
            run.abandon()
        self.pump.shutdown()
        self.removeObservers()
        self._closeClient()

    def _onSceneStartClose(self, caller, event) -> None:
        for run in self.runs.values():
            run.abandon()
        self.pump.shutdown()
        self.runs.clear()
        self.uploads.clear()
        self.previousLayout = None

    # -- messages (main thread) -----------------------------------------------------------------------------------

    def applyMessage(self, message) -> None:
        """Pump handler: route a worker message to its run."""
        self._checkMainThread()
        run = self.runs.get(message.job_id)
        if run is None:
            self.pump.close_job(message.job_id)
            return
        if message.kind == "uploaded" and not message.payload.reused:
            for staleId in self.uploads.put(run.uploadKey, message.payload.volume_id):
                logger.debug("SegCam: replaced cached volume %s", staleId)
        run.apply(message)
        if run.finished:
            self.pump.close_job(run.job_id)
            self._following.pop(run.job_id, None)

    def _flush(self) -> None:
        for run in list(self.runs.values()):
            if not run.finished:
                run.flush()
                if self.displayOptions.followStream:
                    self._followStream(run)

    def _checkMainThread(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            self.offMainThreadWrites += 1
            raise RuntimeError("SegCam: scene access off the main thread")

    # sink of CamRun

    def create_heatmap(self, run: CamRun, slot) -> Any:
        self._checkMainThread()
        ct = slicer.mrmlScene.GetNodeByID(run.request.ct_node_id)
        if ct is None:
            raise RuntimeError("The CT volume was removed while its heatmap streamed.")
        name = provenance.result_name(ct.GetName(), METHOD_LABELS.get(slot.method, slot.method),
                                      run.request.target_class, slot.layer)
        node = self.createHeatmapNode(ct, name)
        mrml_io.set_attributes(node, self._attributes(run, slot, complete=False))
        self.configureDisplay([node], (slot.min, slot.max))
        return node

    def write_slab(self, node, k0: int, k1: int, data) -> None:
        self._checkMainThread()
        mrml_io.write_slab(node, k0, k1, data)

    def modified(self, node) -> None:
        mrml_io.array_modified(node)

    def finalize(self, run: CamRun, slot) -> None:
        """Final window (once), attributes and name; "(partial)" when the stream did not complete."""
        node = slot.node
        if node is None or node.GetScene() is None:
            return
        mrml_io.set_attributes(node, self._attributes(run, slot, complete=slot.complete))
        if slot.metrics:
            for key, value in slot.metrics.items():
                node.SetAttribute(provenance.ATTRIBUTE_PREFIX + "metric." + key, f"{value:.9g}")
        base = provenance.without_partial(node.GetName())
        node.SetName(base if slot.complete else base + provenance.PARTIAL_SUFFIX)
        if run.state == DONE:
            self.configureDisplay([node], (slot.min, slot.max))

    def notify(self, run: CamRun, kind: str) -> None:
        if kind == "heatmap":
            self._showRun(run)
        for listener in list(self.listeners):
            try:
                listener(run, kind)
            except Exception:
                logger.exception("SegCam: listener failed on %s", kind)

    def _attributes(self, run: CamRun, slot, complete: bool) -> Dict[str, str]:
        return provenance.attributes(
            method=slot.method, model=run.request.model, target_class=run.request.target_class, layer=slot.layer,
            server_version=run.request.server_version, request_id=run.request_id,
            value_range=(slot.min, slot.max), complete=complete,
        )

    # -- display --------------------------------------------------------------------------------------------------

    def createHeatmapNode(self, referenceVolume, name: str):
        """A float32 zero volume on the CT's grid, under the CT's parent transform."""
        return mrml_io.create_heatmap_node(referenceVolume, name)

    def setDisplayOptions(self, **options) -> None:
        for key, value in options.items():
            setattr(self.displayOptions, key, value)
        nodes = {slot.node for run in self.runs.values() for slot in run.slot_list() if slot.node is not None}
        parameters = self.getParameterNode()
        nodes |= {node for node in (parameters.outputA, parameters.outputB) if node is not None}
        if nodes:
            self.configureDisplay(nodes)
            display.set_opacity(self.displayOptions.opacity)

    def configureDisplay(self, nodes, valueRange=None) -> None:
        """One scale for all: same colour table, window, threshold and interpolation for every heatmap."""
        options = self.displayOptions
        for node in nodes:
            if node is None or node.GetScene() is None:
                continue
            if valueRange is None:
                text = node.GetAttribute(provenance.ATTRIBUTE_PREFIX + "valueRange") or "0 1"
                low, high = (float(v) for v in text.split())
            else:
                low, high = valueRange
            display.configure_heatmap(node, display.display_range(low, high), options.colormap,
                                      options.threshold, options.interpolate)

    def showSingle(self, ct, heatmap) -> None:
        display.show_overlay(ct, heatmap, self.displayOptions.opacity)

    def showCompare(self, ct, heatmapA, heatmapB) -> None:
        previous = layouts.show_compare(ct, heatmapA, heatmapB, self.displayOptions.opacity,
                                        self.displayOptions.compareCoronal)
        if previous not in (layouts.COMPARE_LAYOUT_ID, layouts.COMPARE_CORONAL_LAYOUT_ID):
            self.previousLayout = previous

    def restoreLayout(self) -> None:
        layouts.restore_layout(self.previousLayout)
        self.previousLayout = None

    def _showRun(self, run: CamRun) -> None:
        ct = slicer.mrmlScene.GetNodeByID(run.request.ct_node_id)
        slots = run.slot_list()
        if len(slots) == 1:
            self.showSingle(ct, slots[0].node)
            display.add_legend(slots[0].node)
        elif len(slots) == 2:
            self.showCompare(ct, slots[0].node, slots[1].node)
        segmentation = self._segmentationOf(run)
        if segmentation is not None and len(slots) == 1:
            display.outline_segment(segmentation, run.request.segment_id)

    def _segmentationOf(self, run: CamRun):
        node = self.getParameterNode().segmentation
        return node if node is not None and node.GetSegmentation().GetSegment(run.request.segment_id) else None

    def _followStream(self, run: CamRun) -> None:
        """Show the newest slab until the user scrolls (detected as a slice offset we did not set)."""
        slots = run.slot_list()
        if not slots or run.job_id not in self._following:
            return
        newest = max(slot.slices_complete for slot in slots)
        if newest <= 0:
            return
        ct = slicer.mrmlScene.GetNodeByID(run.request.ct_node_id)
        tag = layouts.VIEW_A if len(slots) == 2 else "Red"
        widget = slicer.app.layoutManager().sliceWidget(tag)
        if ct is None or widget is None:
            return
        sliceNode = widget.mrmlSliceNode()
        expected = self._following[run.job_id]
        if expected is not None and abs(sliceNode.GetSliceOffset() - expected) > 1e-3:
            del self._following[run.job_id]  # the user scrolled: stop following
            return
        dims = mrml_io.volume_dims(ct)
        center = mrml_io.ijk_to_ras_matrix(ct) @ np.array([(dims[0] - 1) / 2, (dims[1] - 1) / 2, newest - 1, 1.0])
        sliceNode.JumpSliceByOffsetting(*center[:3])
        self._following[run.job_id] = sliceNode.GetSliceOffset()

    # -- results --------------------------------------------------------------------------------------------------

    def createDifference(self, ct, heatmapA, heatmapB):
        """A − B on a diverging colour table with a symmetric window."""
        if heatmapA is None or heatmapB is None:
            raise ValueError(_("Compute two heatmaps first."))
        difference = slicer.util.arrayFromVolume(heatmapA).astype(np.float32) - slicer.util.arrayFromVolume(heatmapB)
        name = f"{provenance.without_partial(heatmapA.GetName())} − {heatmapB.GetAttribute('SegCam.method') or 'B'}"
        node = self.createHeatmapNode(ct, name)
        slicer.util.updateVolumeFromArray(node, difference)
        display.configure_heatmap(node, display.symmetric_window(difference), threshold_fraction=0.0,
                                  color_node_id_override=display.DIVERGING_COLOR_NODE_ID)
        node.GetDisplayNode().SetApplyThreshold(0)
        self.showSingle(ct, node)
        return node

    def thresholdToSegment(self, heatmap, segmentationNode, ct, insideSegmentId: str = ""):
        """Add "CAM ≥ t" (t from the threshold slider) as a segment; returns (segment id, share inside the region)."""
        if heatmap is None or segmentationNode is None:
            raise ValueError(_("Compute a heatmap and choose a segmentation first."))
        low, high = display.display_range(*self._range(heatmap))
        threshold = display.threshold_value(self.displayOptions.threshold, low, high)
        name = f"CAM ≥ {threshold:.3g} ({heatmap.GetAttribute('SegCam.method') or ''})"
        segmentId = mrml_io.threshold_to_segment(heatmap, threshold, segmentationNode, name, ct)
        share = None
        if insideSegmentId:
            mask, _warnings = mrml_io.segment_mask(segmentationNode, insideSegmentId, ct)
            share = mrml_io.share_inside(slicer.util.arrayFromVolume(heatmap), mask)
        return segmentId, share

    @staticmethod
    def _range(node):
        text = node.GetAttribute(provenance.ATTRIBUTE_PREFIX + "valueRange") or "0 1"
        return tuple(float(v) for v in text.split())

    def save(self, node, directory: str, extension: str = ".nrrd"):
        """Write the heatmap (NRRD or NIfTI, float32 with geometry) and its .segcam.json sidecar; returns both paths.

        Only SegCam heatmaps are saved, and never over the file of the CT they were computed from.
        """
        if node is None or not node.GetAttribute(provenance.ATTRIBUTE_PREFIX + "method"):
            raise ValueError(_("Only SegCam heatmaps are saved here."))
        if extension not in (".nrrd", ".nii.gz", ".nii"):
            raise ValueError(f"Unsupported format {extension}")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, provenance.safe_file_stem(node.GetName()) + extension)
        for other in slicer.util.getNodesByClass("vtkMRMLScalarVolumeNode"):
            storage = other.GetStorageNode()
            if other is not node and storage and storage.GetFileName() and \
                    os.path.abspath(storage.GetFileName()) == os.path.abspath(path):
                raise ValueError(_("{path} belongs to another volume; it is not overwritten.").format(path=path))
        if not slicer.util.saveNode(node, path):
            raise RuntimeError(_("Slicer could not write {path}.").format(path=path))
        attributes = {name: node.GetAttribute(name) for name in node.GetAttributeNames()
                      if name.startswith(provenance.ATTRIBUTE_PREFIX) and ".metric." not in name}
        metricPrefix = provenance.ATTRIBUTE_PREFIX + "metric."
        metrics = {name[len(metricPrefix):]: float(node.GetAttribute(name)) for name in node.GetAttributeNames()
                   if name.startswith(metricPrefix)}
        sidecar = provenance.sidecar_path(path)
        provenance.write_sidecar(sidecar, provenance.sidecar(
            attributes, image_file=path, name=node.GetName(), metrics=metrics or None,
            extra={"pluginVersion": PLUGIN_VERSION},
        ))
        return path, sidecar


#
# SegCamTest
#


class SegCamTest(ScriptedLoadableModuleTest):
    """Self-test (VIEWER.md §11): no downloads, no GPU, no network beyond 127.0.0.1."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_mask_and_geometry()
        self.setUp()
        self.test_streaming_display_and_save()

    # synthetic data: oblique, anisotropic, non-zero origin

    @staticmethod
    def obliqueIjkToRas(spacing=(0.8, 0.9, 2.5), origin=(-12.5, 30.0, 7.25)):
        a, b = np.radians(20.0), np.radians(10.0)
        rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
        matrix = np.eye(4)
        matrix[:3, :3] = rz @ rx @ np.diag(spacing)
        matrix[:3, 3] = origin
        return matrix

    def makeCt(self, dims=(24, 20, 10)):
        ct = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "SegCamTestCT")
        voxels = np.random.default_rng(7).integers(-1000, 1000, size=dims[::-1]).astype(np.int16)
        slicer.util.updateVolumeFromArray(ct, voxels)
        ct.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(self.obliqueIjkToRas()))
        return ct

    def makeBoxSegment(self, reference, box, name="box"):
        (i0, i1), (j0, j1), (k0, k1) = box
        segmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode")
        segmentation.SetReferenceImageGeometryParameterFromVolumeNode(reference)
        segmentId = segmentation.GetSegmentation().AddEmptySegment(name)
        mask = np.zeros(slicer.util.arrayFromVolume(reference).shape, dtype=np.uint8)
        mask[k0:k1, j0:j1, i0:i1] = 1
        slicer.util.updateSegmentBinaryLabelmapFromArray(mask, segmentation, segmentId, reference)
        return segmentation, segmentId, int(mask.sum())

    def test_mask_and_geometry(self):
        self.delayDisplay("Segment mask on the CT grid; IJK→LPS round trip")
        ct = self.makeCt()
        segmentation, segmentId, count = self.makeBoxSegment(ct, ((5, 15), (4, 12), (2, 7)))
        mask, warnings = mrml_io.segment_mask(segmentation, segmentId, ct)
        self.assertEqual(mask.shape, slicer.util.arrayFromVolume(ct).shape)
        self.assertEqual(int(mask.sum()), count)
        self.assertEqual(warnings, [])

        # A segmentation on a grid twice as fine, tiling the same voxels, resampled onto the CT grid.
        coarse = self.obliqueIjkToRas()
        fine = coarse.copy()
        fine[:3, :3] = coarse[:3, :3] / 2
        fine[:3, 3] = coarse[:3, 3] - coarse[:3, :3] @ np.array([0.25, 0.25, 0.25])
        fineVolume = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "SegCamTestFine")
        slicer.util.updateVolumeFromArray(fineVolume, np.zeros((20, 40, 48), dtype=np.uint8))
        fineVolume.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(fine))
        fineSegmentation, fineId, _fineCount = self.makeBoxSegment(fineVolume, ((10, 30), (8, 24), (4, 14)))
        resampled, _w = mrml_io.segment_mask(fineSegmentation, fineId, ct)
        self.assertEqual(resampled.shape, mask.shape)
        self.assertLessEqual(abs(int(resampled.sum()) - count), count // 10)

        ijkToRas = mrml_io.ijk_to_ras_matrix(ct)
        lps = mrml_io.ijk_to_lps(ijkToRas)
        origin, spacing, direction = mrml_io.grid_parts(lps)
        np.testing.assert_allclose(mrml_io.ijk_to_ras_from_lps(mrml_io.matrix_from_parts(origin, spacing, direction)),
                                   ijkToRas, atol=1e-9)
        np.testing.assert_allclose(spacing, (0.8, 0.9, 2.5), atol=1e-9)
        heat = mrml_io.create_heatmap_node(ct, "heat")
        self.assertTrue(mrml_io.same_matrix(mrml_io.ijk_to_ras_matrix(heat), ijkToRas, 1e-6))
        self.assertEqual(slicer.util.arrayFromVolume(heat).dtype, np.float32)
        try:
            from segcam_client import Geometry
        except ImportError:
            self.delayDisplay("segcam_client needs grpc: Geometry round trip skipped")
        else:
            geometry = Geometry.from_ijk_to_ras(ijkToRas, mrml_io.volume_dims(ct))
            np.testing.assert_allclose(geometry.ijk_to_ras(), ijkToRas, atol=1e-9)
        self.delayDisplay("Mask and geometry: passed")

    def test_streaming_display_and_save(self):
        try:
            import grpc  # noqa: F401

            from segcam_client._gen import segcam_pb2, segcam_pb2_grpc
        except ImportError:
            self.delayDisplay("grpc is not installed (nothing is installed in testing mode): streaming test skipped")
            return
        from segcam_client import SegCamError

        from SegCamLib.fake_server import FAKE_MODEL_ID, FakeSegCamServer, expected_heatmap
        from SegCamLib.settings import MemoryStore

        ct = self.makeCt()
        segmentation, segmentId, _count = self.makeBoxSegment(ct, ((5, 15), (4, 12), (2, 7)))
        server = FakeSegCamServer(segcam_pb2, segcam_pb2_grpc).start()
        logic = SegCamLogic(settingsStore=MemoryStore(), environ={})
        try:
            logic.connect(server.endpoint)
            inputs = logic.exportInputs(ct, segmentation, segmentId, segmentId)
            methods = ["seg-hires-grad-cam", "seg-grad-cam"]

            self.delayDisplay("Stream two heatmaps")
            run = logic.waitForRun(logic.startJob(inputs, FAKE_MODEL_ID, "tumour", methods), timeout=60)
            self.assertEqual(run.state, DONE, run.failure and run.failure.detail)
            self.assertEqual(logic.offMainThreadWrites, 0)
            for slot in run.slot_list():
                self.assertTrue(slot.complete)
                np.testing.assert_array_equal(slicer.util.arrayFromVolume(slot.node),
                                              expected_heatmap(slot.index, inputs.dims))
                self.assertEqual(slot.node.GetAttribute("SegCam.complete"), "true")
                self.assertIsNotNone(slot.metrics)
            self.assertEqual(server.uploads, 1)

            self.delayDisplay("Both compare views share one scale")
            layoutManager = slicer.app.layoutManager()
            for tag, slot in zip((layouts.VIEW_A, layouts.VIEW_B), run.slot_list()):
                composite = layoutManager.sliceWidget(tag).mrmlSliceCompositeNode()
                self.assertEqual(composite.GetBackgroundVolumeID(), ct.GetID())
                self.assertEqual(composite.GetForegroundVolumeID(), slot.node.GetID())
                self.assertAlmostEqual(composite.GetForegroundOpacity(), logic.displayOptions.opacity)
                displayNode = slot.node.GetDisplayNode()
                self.assertEqual(displayNode.GetColorNodeID(), display.color_node_id(logic.displayOptions.colormap))
                low, high = display.display_range(slot.min, slot.max)
                self.assertAlmostEqual(displayNode.GetWindowLevelMin(), low, places=5)
                self.assertAlmostEqual(displayNode.GetWindowLevelMax(), high, places=5)
                self.assertTrue(displayNode.GetApplyThreshold())
                self.assertAlmostEqual(displayNode.GetLowerThreshold(),
                                       display.threshold_value(logic.displayOptions.threshold, low, high), places=5)

            self.delayDisplay("Reuse the upload; re-upload after the server forgot it")
            run = logic.waitForRun(logic.startJob(inputs, FAKE_MODEL_ID, "tumour", methods[:1]), timeout=60)
            self.assertEqual((run.state, server.uploads), (DONE, 1))
            server.forget_volumes()
            run = logic.waitForRun(logic.startJob(inputs, FAKE_MODEL_ID, "tumour", methods[:1]), timeout=60)
            self.assertEqual((run.state, server.uploads), (DONE, 2))

            self.delayDisplay("Save as NRRD with a sidecar, reload, compare")
            saved = run.slot_list()[0].node
            folder = tempfile.mkdtemp(prefix="segcam-selftest-")
            path, sidecar = logic.save(saved, folder, ".nrrd")
            self.assertTrue(os.path.exists(sidecar))
            loaded = slicer.util.loadVolume(path)
            np.testing.assert_array_equal(slicer.util.arrayFromVolume(loaded), slicer.util.arrayFromVolume(saved))
            self.assertTrue(mrml_io.same_matrix(mrml_io.ijk_to_ras_matrix(loaded), mrml_io.ijk_to_ras_matrix(ct), 1e-4))

            self.delayDisplay("INVALID_ARGUMENT arrives as a typed error")
            run = logic.waitForRun(logic.startJob(inputs, FAKE_MODEL_ID, "tumour", methods[:1], ["bad-layer"]), 60)
            self.assertEqual(run.state, "failed")
            self.assertIsInstance(run.failure.error, SegCamError)
            self.assertEqual(feedback.status_name(run.failure.error), "INVALID_ARGUMENT")

            self.delayDisplay("Cancel mid-stream")
            server.slab_delay_s = 0.05
            run = logic.startJob(inputs, FAKE_MODEL_ID, "tumour", methods[:1])
            self._drainUntil(logic, lambda: run.slots and run.slot_list()[0].slices_complete > 0)
            logic.cancel(run)
            logic.waitForRun(run, timeout=30)
            self.assertEqual(run.state, "cancelled")
            slot = run.slot_list()[0]
            self.assertFalse(slot.complete)
            self.assertEqual(slot.node.GetAttribute("SegCam.complete"), "false")
            self.assertTrue(slot.node.GetName().endswith(provenance.PARTIAL_SUFFIX))
            self.assertFalse(logic.isRunning())

            self.delayDisplay("Close the scene mid-stream")
            run = logic.startJob(inputs, FAKE_MODEL_ID, "tumour", methods[:1])
            self._drainUntil(logic, lambda: run.slots and run.slot_list()[0].slices_complete > 0)
            slicer.mrmlScene.Clear()
            self.assertTrue(run.finished)
            self.assertFalse(logic.pump.running)
            time.sleep(0.3)
            logic.pump.drain()  # late messages of the closed job are dropped, not applied
            self.assertFalse(logic.pump.running)
            self.assertEqual(logic.offMainThreadWrites, 0)
        finally:
            logic.shutdown()
            server.stop()
        self.delayDisplay("Streaming, display and saving: passed")

    @staticmethod
    def _drainUntil(logic, condition, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            if not logic.pump.drain():
                time.sleep(0.01)

"""The wire contract of fluxlab: pydantic v2 models only (imports nothing of services)."""

from schemas.base import MAX_MESSAGE_BYTES, Message, WireModel, new_id, utcnow
from schemas.campaign import (
    AnalysisSpec,
    AutoPolicy,
    CampaignEvent,
    CampaignEventKind,
    CampaignSpec,
    ExecutorKind,
    ExecutorSpec,
    ExpressionParam,
    MediumParam,
    Objective,
    OrganismSpec,
    OverTimeKind,
    OverTimeObjective,
    RangeParam,
    ReadoutSpec,
    ReviewMode,
    ReviewSpec,
    SearchSpace,
    Sense,
    SimulatorSpec,
    Strategy,
)
from schemas.deadletter import DeadLetter
from schemas.design import Design
from schemas.errors import FieldError, describe_validation_error
from schemas.lifecycle import AMENDED, Origin, ProposalStatus, WorkOrderStatus
from schemas.measurement import Measurement, MeasurementSource, Value
from schemas.model import (
    DeclineCause,
    DesignPrediction,
    ErrorDetail,
    ModelDeclined,
    ModelTrained,
    PredictReply,
    PredictRequest,
)
from schemas.proposal import Prediction, Proposal, ReviewAction, ReviewDecision
from schemas.timecourse import TimeCourse, TimeCourseRequest, TimeCourseUnit, TimePoint
from schemas.work import RunFailed, WorkOrder

__all__ = [
    "AMENDED", "MAX_MESSAGE_BYTES", "AnalysisSpec", "AutoPolicy", "CampaignEvent", "CampaignEventKind", "CampaignSpec",
    "DeadLetter", "DeclineCause", "Design", "DesignPrediction", "ErrorDetail", "ExecutorKind", "ExecutorSpec",
    "ExpressionParam", "FieldError", "Measurement", "MeasurementSource", "MediumParam", "Message", "ModelDeclined",
    "ModelTrained", "Objective", "OrganismSpec", "Origin", "OverTimeKind", "OverTimeObjective", "PredictReply",
    "PredictRequest", "Prediction", "Proposal", "ProposalStatus", "RangeParam", "ReadoutSpec", "ReviewAction",
    "ReviewDecision", "ReviewMode", "ReviewSpec", "RunFailed", "SearchSpace", "Sense", "SimulatorSpec", "Strategy",
    "TimeCourse", "TimeCourseRequest", "TimeCourseUnit", "TimePoint", "Value", "WireModel", "WorkOrder",
    "WorkOrderStatus", "describe_validation_error", "new_id", "utcnow",
]

from vreid.engine.checkpoint import Checkpointer
from vreid.engine.defaults import setup
from vreid.engine.launch import launch
from vreid.engine.trainer import Trainer

__all__ = ["Checkpointer", "setup", "launch", "Trainer"]

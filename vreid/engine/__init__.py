from vreid.engine.checkpoint import Checkpointer, load_checkpoint_file
from vreid.engine.defaults import argument_parser, run_cli, setup
from vreid.engine.launch import launch
from vreid.engine.trainer import Trainer

__all__ = ["Checkpointer", "load_checkpoint_file", "argument_parser", "run_cli", "setup", "launch", "Trainer"]

from .stack import JointManyTask, StackOutput

__all__ = ["JointManyTask", "StackOutput"]

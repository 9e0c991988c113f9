export { LocalStepFunctions } from './service';
export type {
  ClockLike,
  CreateStateMachineParams,
  ExecutionDescription,
  HistoryListener,
  LocalStepFunctionsProps,
  StartExecutionParams,
  TaskContext,
  TaskHandler,
  TaskResolver,
} from './service';
export { handleStepFunctionsRequest, isStepFunctionsRequest, type StepFunctionsHttpResponse } from './api';
export { sfnError, type SfnErrorName } from './errors';

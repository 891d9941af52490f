import { JOBS, QUEUES, QueueName } from './queue-names';

type QueueKey = keyof typeof JOBS;
/** The job names JOBS declares for one queue. */
export type JobNameOf<K extends QueueKey> = (typeof JOBS)[K][keyof (typeof JOBS)[K]];

/** Where `@nestjs/bullmq`'s `@Processor` keeps its options (`{ name }`); the package does not export the key. */
const PROCESSOR_METADATA = 'bullmq:processor_metadata';
const HANDLES_JOBS = 'yb:handles_jobs';

/** The queues only sandbox mode has workers for. */
export const SANDBOX_QUEUES: readonly QueueName[] = [QUEUES.sandboxWebhooks, QUEUES.sandboxBank, QUEUES.sandboxWechat];

export interface HandledJobs {
  queue: QueueName;
  names: readonly string[];
}

/**
 * Declares, as data, the job names a processor's `process` handles: the start-up check (`JobHandlerCheck`)
 * compares every processor's list with `JOBS`; `processors.spec.ts` checks that each dispatch refuses any other name.
 */
export function HandlesJobs<K extends QueueKey>(queue: K, names: readonly JobNameOf<K>[]): ClassDecorator {
  const handled: HandledJobs = { queue: QUEUES[queue], names: names as readonly string[] };
  return (target) => Reflect.defineMetadata(HANDLES_JOBS, handled, target);
}

export function handledJobsOf(target: object): HandledJobs | undefined {
  return Reflect.getMetadata(HANDLES_JOBS, target) as HandledJobs | undefined;
}

/** The queue a `@Processor` class works, if it is one. */
export function processorQueueOf(target: object): string | undefined {
  return (Reflect.getMetadata(PROCESSOR_METADATA, target) as { name?: string } | undefined)?.name;
}

export interface ProcessorDeclaration {
  /** The class name, for the error. */
  processor: string;
  /** From `@Processor`. */
  queue: string;
  /** From `@HandlesJobs`; undefined when the class declares nothing. */
  handles?: HandledJobs;
}

/**
 * What is wrong between the processors of this process and `JOBS`: a processor that declares no names or
 * another queue than it works, a name `JOBS` does not know, a name two processors claim, and, for every queue
 * in `required`, a job name no processor handles. Empty when all is well.
 */
export function jobHandlerProblems(processors: readonly ProcessorDeclaration[], required: readonly QueueName[]): string[] {
  const problems: string[] = [];
  const handledBy = new Map<string, string>();
  const declared = new Map<string, readonly string[]>(
    (Object.keys(JOBS) as QueueKey[]).map((key) => [QUEUES[key], Object.values(JOBS[key]) as string[]]),
  );
  for (const { processor, queue, handles } of processors) {
    if (!handles) {
      problems.push(`${processor} (queue "${queue}") does not declare the job names it handles (@HandlesJobs)`);
      continue;
    }
    if (handles.queue !== queue) {
      problems.push(`${processor} works queue "${queue}" but declares the jobs of queue "${handles.queue}"`);
      continue;
    }
    for (const name of handles.names) {
      if (!declared.get(queue)?.includes(name))
        problems.push(`${processor} handles job "${name}", which JOBS does not declare for queue "${queue}"`);
      const key = `${queue}\u0000${name}`;
      const other = handledBy.get(key);
      if (other) problems.push(`Job "${name}" on queue "${queue}" is handled by both ${other} and ${processor}`);
      handledBy.set(key, processor);
    }
  }
  for (const queue of required) {
    for (const name of declared.get(queue) ?? []) {
      if (!handledBy.has(`${queue}\u0000${name}`)) problems.push(`No handler for job "${name}" on queue "${queue}"`);
    }
  }
  return problems;
}

// Progress reporting for long operations (convert, commit, compact).

/** Called with bytes done and bytes in total; done === total once at the end. */
export type Progress = (done: number, total: number) => void;

export const noProgress: Progress = () => {};

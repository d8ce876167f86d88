// Quoting for the shell lines the program prints for people to paste
// (kubectl set-credentials, release commands): the bottom layer, so every
// part that prints a command quotes the same way.

/** `arg` as one POSIX shell word; plain when it needs no quoting. */
export function shellQuote(arg: string): string {
    return /^[A-Za-z0-9@%+=:,./_-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

import ArgumentParser

@main
struct SwiftPS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftps",
        abstract: "A parameter server for training models across processes and hosts.",
        discussion: """
            Flags whose help names an environment variable (env: SWIFTPS_…) fall back to it; a flag wins. \
            Start a whole cluster on this host with `swiftps local`. On several hosts, start one `coordinator`, \
            then any number of `server`s and `worker`s in any order, each pointed at the coordinator.
            """,
        subcommands: [LocalCommand.self, CoordinatorCommand.self, ServerCommand.self, WorkerCommand.self,
                      StatusCommand.self, KeygenCommand.self, BenchCommand.self, PlotCommand.self])
}

// cledger: the Contact Ledger command line.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/text.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"

namespace {

using cledger::cli::audit_tools::Printable;

// CLI11's message quotes what was typed ("not expected: …"): each line escaped, so a typed
// control character cannot drive the terminal.
std::string PrintableLines(std::string_view text) {
  std::string out;
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find('\n', at), text.size());
    out += Printable(text.substr(at, end - at));
    if (end < text.size()) out += '\n';
    at = end + 1;
  }
  return out;
}

// The subcommands given, from the top: `cledger projections`.
std::vector<const CLI::App*> GivenChain(const CLI::App& top) {
  std::vector<const CLI::App*> chain{&top};
  while (!chain.back()->get_subcommands().empty()) {
    chain.push_back(chain.back()->get_subcommands().front());
  }
  return chain;
}

// The long names of `app`'s options, its option groups' too ("--contact").
void AddLongNames(const CLI::App& app, std::vector<std::string>& known) {
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) known.push_back("--" + name);
  }
  for (const CLI::App* group : app.get_subcommands({})) {
    if (group->get_name().empty()) AddLongNames(*group, known);
  }
}

// "did you mean --tenant?" for each flag the command line held that the subcommand does not
// take but nearly does, and "did you mean backup?" for a subcommand: a typo gets the right
// spelling, not only "not expected".
std::string Suggestions(const CLI::App& top) {
  const std::vector<const CLI::App*> chain = GivenChain(top);
  std::vector<std::string> known;
  for (const CLI::App* app : chain) AddLongNames(*app, known);
  std::vector<std::string> commands;  // what may follow the last subcommand given
  for (const CLI::App* sub : chain.back()->get_subcommands({})) {
    if (!sub->get_name().empty()) commands.push_back(sub->get_name());  // not option groups
  }
  std::string out;
  for (const CLI::App* app : chain) {
    for (const std::string& given : app->remaining()) {
      if (!given.starts_with("--")) {
        if (auto best = cledger::base::Nearest(given, commands)) {
          out += "cledger: no subcommand " + Printable(given) + "; did you mean " +
                 std::string(*best) + "?\n";
        }
        continue;
      }
      const std::string flag = given.substr(0, given.find('='));
      if (auto best = cledger::base::Nearest(flag, known)) {
        out += "cledger: " + Printable(flag) + " is not an option here; did you mean " +
               std::string(*best) + "?\n";
      }
    }
  }
  return out;
}

// CLI11's "A subcommand is required" names none: this names the ones that may follow (unless
// `hints` already said which one a misspelt word meant), and where their help is.
std::optional<std::string> SubcommandWanted(const CLI::App& top, const CLI::Error& e,
                                            const std::string& hints) {
  const std::vector<const CLI::App*> chain = GivenChain(top);
  const CLI::App& last = *chain.back();
  const size_t wanted = last.get_require_subcommand_min();
  // Not a missing required option, which CLI11 also reports as a RequiredError.
  if (wanted == 0 || std::string_view(e.what()) != CLI::RequiredError::Subcommand(wanted).what()) {
    return std::nullopt;
  }
  std::string path = "cledger";
  for (size_t i = 1; i < chain.size(); ++i) path += " " + chain[i]->get_name();
  std::string names;
  for (const CLI::App* sub : last.get_subcommands({})) {
    if (sub->get_name().empty()) continue;  // an option group
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  const std::string help = "Run '" + path + " --help' for what each does.\n";
  if (!hints.empty()) return hints + help;
  return path + ": give a subcommand: " + names + ".\n" + help;
}

// A group (`backup`, `token` …) would show the top-level examples: it gets the first example
// of each of its subcommands instead, taken from their own help.
void GiveGroupsTheirExamples(CLI::App& top) {
  for (CLI::App* group : top.get_subcommands({})) {
    std::string examples;
    for (const CLI::App* sub : group->get_subcommands({})) {
      if (sub->get_name().empty()) continue;  // an option group, not a subcommand
      const std::string own = "  cledger " + group->get_name() + " " + sub->get_name();
      const std::string footer = sub->get_footer();
      const size_t at = footer.find(own);
      if (at == std::string::npos) continue;
      examples += footer.substr(at, footer.find('\n', at) - at) + "\n";
    }
    if (examples.empty()) continue;
    group->footer("Examples:\n" + examples + "Run 'cledger " + group->get_name() +
                  " SUBCOMMAND --help' for its options and more examples.");
  }
}

// The key locations are options of `cledger` itself, which a subcommand's help does not list:
// each command that opens a data directory names the ones it does not take as its own (an
// example using them is no explanation). `proof public-key` reads only the signing key.
void NameTheKeyLocationOptions(CLI::App& command) {
  for (CLI::App* sub : command.get_subcommands({})) {
    NameTheKeyLocationOptions(*sub);
    if (sub->get_name().empty() || sub->get_name() == "public-key" ||
        sub->get_option_no_throw("--data") == nullptr) {
      continue;
    }
    std::string missing;
    for (auto [option, value] :
         {std::pair{"--key-store", " DIR"}, std::pair{"--master-key-file", " FILE"}}) {
      if (sub->get_option_no_throw(option) != nullptr) continue;
      missing += (missing.empty() ? "" : " and ") + std::string(option) + value;
    }
    if (missing.empty()) continue;
    sub->footer(sub->get_footer() + "\nAlso takes " + missing +
                ", where the keys are not beside the data directory (cledger --help).");
  }
}

// An empty --data (most often a shell variable that was never set) is a usage error, not a
// directory to look for a ledger in.
void RefuseEmptyDataPaths(CLI::App& command) {
  for (CLI::App* sub : command.get_subcommands({})) {
    RefuseEmptyDataPaths(*sub);
    if (CLI::Option* data = sub->get_option_no_throw("--data")) {
      data->check(CLI::Validator(
          [](std::string& path) {
            return path.empty() ? std::string("an empty path: give the data directory") : "";
          },
          "", "non-empty"));
    }
  }
}

// RocksDB keeps every table file of a data directory open: a large ledger, or a cluster node's
// partitions, may pass the usual soft limit of 1,024 descriptors long before the hard one.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  RaiseOpenFileLimit();
  // Logs go to stderr, so stdout stays clean for what scripts read.
  spdlog::set_default_logger(spdlog::stderr_color_mt("cledger"));
  CLI::App app{
      "cledger — the Contact Ledger: an event-sourced, hash-chained ledger of customer "
      "contacts on an embedded RocksDB data directory."};
  app.require_subcommand(1);
  // The key locations below may come after the subcommand too, like its own options.
  app.fallthrough();
  cledger::cli::AddKeyLocationOptions(app);
  app.footer(
      "Examples:\n"
      "  cledger serve --data ./data --listen 127.0.0.1:8080 --ops-token 12h\n"
      "  cledger tenant create acme --server http://127.0.0.1:8080 --token $OPS_TOKEN\n"
      "  cledger token issue --server http://127.0.0.1:8080 --token $OPS_TOKEN --tenant acme "
      "--actor audrey --role auditor\n"
      "  cledger history --server http://127.0.0.1:8080 --token $AUDITOR --contact k1\n"
      "  cledger audit export --server http://127.0.0.1:8080 --token $AUDITOR --format csv\n"
      "  cledger backup create /backups/ledger --server http://127.0.0.1:8080 --token $OPS_TOKEN\n"
      "  cledger verify --data ./data        (offline: with the server stopped)\n"
      "The auditor's console is at http://127.0.0.1:8080/console while the server runs.\n\n"
      "Exit codes: 0 ok · 1 the work found a problem (e.g. verify), or the data directory is a "
      "damaged ledger · 2 bad arguments · 3 the data directory could not be opened · 4 its "
      "write-ahead log is damaged (see cledger recover).\n"
      "Run 'cledger SUBCOMMAND --help' for its options and examples.");
  app.failure_message([](const CLI::App* failed, const CLI::Error& e) {
    // From the top: a required option group (`history`'s --contact or --customer) fails on
    // its own, while what was mistyped for it is left to the subcommand above it.
    const CLI::App* top = failed;
    while (top->get_parent() != nullptr) top = top->get_parent();
    const std::string hints = Suggestions(*top);
    if (auto wanted = SubcommandWanted(*top, e, hints)) return *wanted;
    return hints + PrintableLines(CLI::FailureMessage::simple(failed, e));
  });
  cledger::cli::Runner run;
  cledger::cli::AddServe(app, run);
  cledger::cli::AddAdmin(app, run);
  cledger::cli::AddOps(app, run);
  cledger::cli::AddAuditTools(app, run);
  cledger::cli::AddProofs(app, run);
  cledger::cli::AddCluster(app, run);
  GiveGroupsTheirExamples(app);
  NameTheKeyLocationOptions(app);
  RefuseEmptyDataPaths(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : cledger::cli::kExitUsage;
  }
  return run ? run() : cledger::cli::kExitUsage;
}

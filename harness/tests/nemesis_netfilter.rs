//! Proves the nemesis's packet drops are real, from outside the process,
//! without the `timed` image: a tiny static C helper (TCP accept server +
//! connect probe) is compiled with `gcc -static`, imported as a `FROM
//! scratch`-like image, and run as two containers on a labelled bridge
//! network. Then:
//!
//! - a cut host -> A makes TCP connects from the host to A time out (silent
//!   drop, not a reset) while B stays reachable; removing it restores A;
//! - a nemesis partition n1 | n2 stops connects both ways between the
//!   containers, a nemesis `kill` (SIGKILL + start) keeps the cut (re-applied
//!   in the new netns), a plain container restart loses it and
//!   `on_node_started` puts it back; `loss` lands in the chain; `heal`
//!   restores everything and the spans record what happened.
//!
//! Needs Docker and root (nsenter). Everything created carries the label
//! `timenet.run=<id>` and is removed on success and on panic.

use harness::nemesis::{netfilter, Capabilities, Nemesis};
use harness::provider::Cluster;
use harness::runner;
use harness::scenario::Scenario;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PORT: u16 = 7000;

const HELPER_C: &str = r#"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void bye(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "serve") == 0) {
        /* PID 1 ignores SIGTERM unless it handles it: keep `docker stop` quick. */
        signal(SIGTERM, bye);
        int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons(atoi(argv[2]));
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) return 1;
        for (;;) {
            int c = accept(s, 0, 0);
            if (c >= 0) { (void)!write(c, "ok\n", 3); close(c); }
        }
    }
    if (argc >= 5 && strcmp(argv[1], "connect") == 0) {
        /* exit 0 connected, 2 timed out (silent drop), 3 refused, 4 other */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        fcntl(s, F_SETFL, O_NONBLOCK);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons(atoi(argv[3]));
        if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) return 4;
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) return 0;
        if (errno != EINPROGRESS) return errno == ECONNREFUSED ? 3 : 4;
        struct pollfd p = {s, POLLOUT, 0};
        if (poll(&p, 1, atoi(argv[4])) == 0) return 2;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
        return err == 0 ? 0 : err == ECONNREFUSED ? 3 : 4;
    }
    return 64;
}
"#;

/// Result of one TCP connect attempt.
#[derive(Debug, PartialEq)]
enum Reach {
    Connected,
    /// No answer at all: the packets were silently dropped.
    Silent,
    Refused,
    Other(String),
}

fn sh(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"))
}

fn sh_ok(cmd: &str, args: &[&str]) -> String {
    let out = sh(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Everything this test created; removed on drop (also on panic).
struct Env {
    run: String,
    image: String,
    network: String,
    subnet_prefix: String,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        let label = format!("label=timenet.run={}", self.run);
        let ids = sh("docker", &["ps", "-aq", "--filter", &label]);
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = sh("docker", &["rm", "-f", id]);
        }
        let _ = sh("docker", &["network", "rm", &self.network]);
        let _ = sh("docker", &["rmi", "-f", &self.image]);
    }
}

impl Env {
    fn ip(&self, host: u8) -> IpAddr {
        format!("{}.{host}", self.subnet_prefix).parse().unwrap()
    }
}

fn setup() -> Env {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let run = format!("nemtest-{}-{nanos:x}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let mut env = Env {
        image: format!("timenet-nemesis-test:{run}"),
        network: format!("{run}-net"),
        subnet_prefix: String::new(),
        run,
        _dir: dir,
    };
    let dir = env._dir.path().to_path_buf();

    // The helper, static, in an image with nothing else.
    std::fs::write(dir.join("helper.c"), HELPER_C).unwrap();
    let bin = dir.join("helper");
    sh_ok(
        "gcc",
        &[
            "-static",
            "-O1",
            "-o",
            bin.to_str().unwrap(),
            dir.join("helper.c").to_str().unwrap(),
        ],
    );
    let tar_path = dir.join("rootfs.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    tar.append_path_with_name(&bin, "helper").unwrap();
    tar.finish().unwrap();
    drop(tar);
    let label = format!("LABEL timenet.run={}", env.run);
    sh_ok(
        "docker",
        &[
            "import",
            "-c",
            "ENTRYPOINT [\"/helper\"]",
            "-c",
            &label,
            tar_path.to_str().unwrap(),
            &env.image,
        ],
    );

    // A labelled bridge network on a /24 nobody else uses (retry on clash).
    let run_label = format!("timenet.run={}", env.run);
    let start = (std::process::id() % 40) as u8;
    for k in 0..40u8 {
        let third = 200 + (start + k) % 40;
        let prefix = format!("172.31.{third}");
        let subnet = format!("{prefix}.0/24");
        let out = sh(
            "docker",
            &[
                "network",
                "create",
                "--label",
                &run_label,
                "--subnet",
                &subnet,
                &env.network,
            ],
        );
        if out.status.success() {
            env.subnet_prefix = prefix;
            return env;
        }
    }
    panic!("no free 172.31.2xx.0/24 subnet for the test network");
}

/// The two containers as a `Cluster`, through the docker CLI.
struct TestCluster<'a> {
    env: &'a Env,
}

impl TestCluster<'_> {
    fn container(&self, node: &str) -> String {
        format!("{}-{node}", self.env.run)
    }

    fn run(&self, node: &str, extra: &[String]) {
        let name = self.container(node);
        let ip = self.node_ip(node).unwrap().to_string();
        let label = format!("timenet.run={}", self.env.run);
        let port = PORT.to_string();
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &label,
            "--network",
            &self.env.network,
            "--ip",
            &ip,
            &self.env.image,
            "serve",
            &port,
        ];
        args.extend(extra.iter().map(|s| s.as_str()));
        sh_ok("docker", &args);
    }

    fn docker(&self, verb: &str, node: &str) -> anyhow::Result<()> {
        let out = sh("docker", &[verb, &self.container(node)]);
        anyhow::ensure!(
            out.status.success(),
            "docker {verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Connect from inside `node`'s container to `to:PORT`.
    fn probe_from(&self, node: &str, to: IpAddr) -> Reach {
        let to = to.to_string();
        let port = PORT.to_string();
        let out = sh(
            "docker",
            &[
                "exec",
                &self.container(node),
                "/helper",
                "connect",
                &to,
                &port,
                "1500",
            ],
        );
        match out.status.code() {
            Some(0) => Reach::Connected,
            Some(2) => Reach::Silent,
            Some(3) => Reach::Refused,
            c => Reach::Other(format!("{c:?} {}", String::from_utf8_lossy(&out.stderr))),
        }
    }
}

impl Cluster for TestCluster<'_> {
    fn node_names(&self) -> Vec<String> {
        vec!["n1".into(), "n2".into()]
    }
    fn node_ip(&self, node: &str) -> Option<IpAddr> {
        match node {
            "n1" => Some(self.env.ip(11)),
            "n2" => Some(self.env.ip(12)),
            _ => None,
        }
    }
    async fn pid(&self, node: &str) -> anyhow::Result<Option<u32>> {
        let out = sh(
            "docker",
            &["inspect", "-f", "{{.State.Pid}}", &self.container(node)],
        );
        let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
        Ok((pid != 0).then_some(pid))
    }
    async fn kill(&self, node: &str) -> anyhow::Result<()> {
        self.docker("kill", node)
    }
    async fn stop(&self, node: &str) -> anyhow::Result<()> {
        self.docker("stop", node)
    }
    async fn start(&self, node: &str) -> anyhow::Result<()> {
        self.docker("start", node)
    }
    async fn pause(&self, node: &str) -> anyhow::Result<()> {
        self.docker("pause", node)
    }
    async fn resume(&self, node: &str) -> anyhow::Result<()> {
        self.docker("unpause", node)
    }
    async fn throttle(&self, node: &str, cpus: Option<f64>) -> anyhow::Result<()> {
        // `--cpus 0` lifts the limit.
        let cpus = cpus.unwrap_or(0.0).to_string();
        let out = sh(
            "docker",
            &["update", "--cpus", &cpus, &self.container(node)],
        );
        anyhow::ensure!(
            out.status.success(),
            "docker update --cpus {cpus}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
    async fn recreate(
        &self,
        node: &str,
        _wipe: bool,
        extra_args: Vec<String>,
    ) -> anyhow::Result<()> {
        let _ = sh("docker", &["rm", "-f", &self.container(node)]);
        self.run(node, &extra_args);
        Ok(())
    }
}

/// Connect from the host with a deadline: a silent drop times out, a
/// missing listener is refused.
fn probe_host(ip: IpAddr) -> Reach {
    match TcpStream::connect_timeout(&SocketAddr::new(ip, PORT), Duration::from_millis(1500)) {
        Ok(_) => Reach::Connected,
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Reach::Silent,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Reach::Refused,
        Err(e) => Reach::Other(e.to_string()),
    }
}

/// Poll `f` until it returns `want` (a just-started container needs a
/// moment to listen); panic with the last value after a generous deadline.
fn eventually(what: &str, want: Reach, mut f: impl FnMut() -> Reach) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = f();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: wanted {want:?}, still {got:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn scenario(faults: &str) -> Scenario {
    toml::from_str(&format!(
        "name = \"nemesis-test\"\nduration = \"1h\"\nseed = 3\n[network]\nnodes = 2\n{faults}\n[[check]]\nkind = \"no_fork\"\n"
    ))
    .unwrap()
}

async fn chain_of<C: Cluster>(c: &C, node: &str) -> String {
    let pid = c.pid(node).await.unwrap().expect("node running");
    netfilter::list(pid).await.unwrap()
}

#[tokio::test]
async fn cuts_are_real_silent_drops_and_survive_restarts() {
    assert!(
        Path::new("/usr/bin/nsenter").exists() || Path::new("/bin/nsenter").exists(),
        "nsenter missing"
    );
    netfilter::check()
        .await
        .expect("iptables + nsenter on the host");
    let env = setup();
    let cluster = TestCluster { env: &env };
    cluster.run("n1", &[]);
    cluster.run("n2", &[]);
    let (a, b) = (env.ip(11), env.ip(12));
    eventually("host -> n1", Reach::Connected, || probe_host(a));
    eventually("host -> n2", Reach::Connected, || probe_host(b));
    eventually("n2 -> n1", Reach::Connected, || cluster.probe_from("n2", a));

    // 1. A cut host -> n1, straight through netfilter.
    let pid_a = cluster.pid("n1").await.unwrap().unwrap();
    let gateway = env.ip(1);
    netfilter::install(pid_a, &[netfilter::Rule::DropFrom(gateway)])
        .await
        .unwrap();
    assert_eq!(probe_host(a), Reach::Silent, "a cut must be a silent drop");
    assert_eq!(probe_host(b), Reach::Connected, "n2 is not behind the cut");
    assert_eq!(cluster.probe_from("n2", a), Reach::Connected);
    // Our chain is jumped to first in INPUT, and holds only our rule.
    let ns = format!("--net=/proc/{pid_a}/ns/net");
    let input = sh_ok("nsenter", &[&ns, "iptables", "-w", "-S", "INPUT"]);
    assert_eq!(input.lines().nth(1), Some("-A INPUT -j TIMENET"), "{input}");
    let chain = netfilter::list(pid_a).await.unwrap();
    assert!(
        chain.contains(&format!("-A TIMENET -s {gateway}/32 -j DROP")),
        "{chain}"
    );
    netfilter::install(pid_a, &[]).await.unwrap();
    assert_eq!(probe_host(a), Reach::Connected, "healed");

    // Loss is real too: about half of 40 connects lose their SYN (or the
    // SYN-ACK's ACK path) and time out; the rule only matches our port.
    let loss = netfilter::Rule::Loss {
        probability: 0.5,
        port: Some(PORT),
    };
    netfilter::install(pid_a, &[loss]).await.unwrap();
    let lost = (0..40)
        .filter(|_| {
            let addr = SocketAddr::new(a, PORT);
            TcpStream::connect_timeout(&addr, Duration::from_millis(400)).is_err()
        })
        .count();
    println!("loss 0.5: {lost}/40 connects lost");
    assert!((6..=34).contains(&lost), "{lost}/40 lost at p = 0.5");
    netfilter::install(pid_a, &[]).await.unwrap();
    assert_eq!(probe_host(a), Reach::Connected, "healed");

    // 2. The nemesis, on a schedule.
    let plan = runner::schedule(
        &scenario(
            r#"
            [[fault]]
            at = "0s"
            for = "50m"
            action = "partition"
            groups = [["n2"], ["n1"]]
            one_way = true
            [[fault]]
            at = "1s"
            action = "kill"
            nodes = ["n1"]
            [[fault]]
            at = "2s"
            for = "50m"
            action = "loss"
            nodes = ["n2"]
            probability = 0.2
            [[fault]]
            at = "3s"
            action = "heal"
            "#,
        ),
        &Capabilities::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!("{plan}");
    let mut nem = Nemesis::new(plan);

    let steps = nem.due_steps(0);
    assert_eq!(steps.len(), 1);
    let line = nem.apply(&steps[0], &cluster, 0).await.unwrap();
    println!("{line}");
    // One cut n2 -> n1, enforced in n1's namespace only...
    assert_eq!(cluster.probe_from("n2", a), Reach::Silent, "n2 -> n1 cut");
    assert!(!chain_of(&cluster, "n2").await.contains("DROP"));
    // ...still breaks TCP both ways (n2's SYN-ACK never reaches n1).
    assert_eq!(cluster.probe_from("n1", b), Reach::Silent, "n1 -> n2");
    assert_eq!(probe_host(a), Reach::Connected, "the host is not cut");

    // kill (SIGKILL + start): new netns, the nemesis re-applies the cut.
    let steps = nem.due_steps(1_000);
    assert_eq!(steps.len(), 1);
    let line = nem.apply(&steps[0], &cluster, 1_000).await.unwrap();
    println!("{line}");
    let new_pid = cluster.pid("n1").await.unwrap().unwrap();
    assert_ne!(new_pid, pid_a, "kill + start gives a new process");
    eventually("host -> restarted n1", Reach::Connected, || probe_host(a));
    assert_eq!(
        cluster.probe_from("n2", a),
        Reach::Silent,
        "cut re-applied after kill"
    );

    // A restart the nemesis did not do loses the rules...
    cluster.stop("n1").await.unwrap();
    cluster.start("n1").await.unwrap();
    eventually("n2 -> n1 after a foreign restart", Reach::Connected, || {
        cluster.probe_from("n2", a)
    });
    assert_eq!(chain_of(&cluster, "n1").await, "", "new netns, no chain");
    // ...and on_node_started puts them back.
    println!("{}", nem.on_node_started("n1", &cluster).await.unwrap());
    assert_eq!(cluster.probe_from("n2", a), Reach::Silent);
    assert!(chain_of(&cluster, "n1")
        .await
        .contains(&format!("-s {b}/32 -j DROP")));

    // loss on n2 lands in n2's chain next to the cut.
    let steps = nem.due_steps(2_000);
    println!("{}", nem.apply(&steps[0], &cluster, 2_000).await.unwrap());
    let chain_b = chain_of(&cluster, "n2").await;
    assert!(
        chain_b.contains("--dport 24100 -m statistic --mode random --probability 0.2"),
        "{chain_b}"
    );

    // heal: everything flows again, our chains are empty.
    let steps = nem.due_steps(3_000);
    println!("{}", nem.apply(&steps[0], &cluster, 3_000).await.unwrap());
    assert_eq!(cluster.probe_from("n2", a), Reach::Connected);
    assert_eq!(cluster.probe_from("n1", b), Reach::Connected);
    assert_eq!(
        chain_of(&cluster, "n1").await.lines().count(),
        1,
        "only `-N TIMENET`"
    );
    assert_eq!(chain_of(&cluster, "n2").await.lines().count(), 1);

    // The spans say what happened, with the cuts and real end times.
    let spans = nem.spans();
    assert_eq!(
        spans.iter().map(|s| s.action.name()).collect::<Vec<_>>(),
        ["partition", "kill", "loss"]
    );
    let p = &spans[0];
    assert_eq!(p.start, 0);
    assert!(p.end.is_some_and(|e| e >= 3_000));
    assert_eq!(p.cuts, vec![("n2".to_string(), "n1".to_string())]);
    assert!(spans[1].start == 1_000 && spans[1].end.is_some_and(|e| e >= 1_000));
    assert!(spans[2].end.is_some());
    // The later planned ends are no-ops now.
    for step in nem.due_steps(u64::MAX) {
        let line = nem.apply(&step, &cluster, 3_600_000).await.unwrap();
        assert!(line.contains("already ended"), "{line}");
    }
    assert!(nem.heal_all(&cluster, 3_600_000).await.unwrap().is_empty());
}

#[tokio::test]
async fn pause_freezes_and_heal_all_resumes() {
    let env = setup();
    let cluster = TestCluster { env: &env };
    cluster.run("n1", &[]);
    cluster.run("n2", &[]);
    let a = env.ip(11);
    eventually("n2 -> n1", Reach::Connected, || cluster.probe_from("n2", a));
    let plan = runner::schedule(
        &scenario("[[fault]]\nat = \"0s\"\naction = \"pause\"\nnodes = [\"n1\"]\n"),
        &Capabilities::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut nem = Nemesis::new(plan);
    for step in nem.due_steps(0) {
        println!("{}", nem.apply(&step, &cluster, 0).await.unwrap());
    }
    let state = sh_ok(
        "docker",
        &[
            "inspect",
            "-f",
            "{{.State.Status}}",
            &cluster.container("n1"),
        ],
    );
    assert_eq!(state, "paused");
    let lines = nem.heal_all(&cluster, 10_000).await.unwrap();
    assert_eq!(lines, vec!["resumed n1".to_string()]);
    let state = sh_ok(
        "docker",
        &[
            "inspect",
            "-f",
            "{{.State.Status}}",
            &cluster.container("n1"),
        ],
    );
    assert_eq!(state, "running");
    assert!(nem.spans()[0].end.is_some_and(|e| e >= 10_000));
    eventually("n2 -> resumed n1", Reach::Connected, || {
        cluster.probe_from("n2", a)
    });
}

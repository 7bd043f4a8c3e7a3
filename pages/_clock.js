// A running generation's elapsed time (m:ss), counted by the browser: the server sends the start once and the end
// when there is one, so an open tab with running cards costs the server nothing per second.
export default {
  template: `<span>{{ text }}</span>`,
  props: { started: Number, ended: Number, now: Number },
  data() { return { clock: Date.now() }; },
  computed: {
    text() {
      // `now` is the server's clock when the page was built: the browser's own clock may be off by minutes.
      const end = this.ended || (this.clock - this.offset);
      const seconds = Math.max(0, Math.floor((end - this.started) / 1000));
      return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    },
  },
  created() { this.offset = this.now ? Date.now() - this.now : 0; },
  mounted() { this.timer = setInterval(() => { if (!this.ended) this.clock = Date.now(); }, 1000); },
  unmounted() { clearInterval(this.timer); },
};

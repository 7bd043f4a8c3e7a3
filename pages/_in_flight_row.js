// One running generation on the dashboard, drawn by the browser from one dict (`row`): one server element per row
// instead of nine (card, row, badge, spinner, clock, label, button, tooltip, message; issue 18: a dashboard with 20
// running was ~180 elements to build on every load). The prompt and the live message are bound as text ({{ }}),
// which Vue escapes: never markup, never a props string. Cancel emits `cancel`; the server checks it is running.
export default {
  template: `
    <q-card class="nicegui-card w-full py-2" :data-prompt-id="row.id">
      <div class="nicegui-row w-full items-center gap-2 no-wrap">
        <q-badge :color="row.color">{{ row.label }}</q-badge>
        <q-spinner color="primary" size="sm" :thickness="5" />
        <span class="nanogen-clock font-mono text-sm opacity-70">{{ elapsed }}</span>
        <div class="text-sm truncate grow">{{ row.prompt }}</div>
        <q-btn flat round dense color="negative" icon="close" aria-label="Cancel" @click="$emit('cancel')">
          <q-tooltip>Cancel</q-tooltip>
        </q-btn>
      </div>
      <div v-if="row.message" class="text-xs nanogen-live">{{ row.message }}</div>
    </q-card>`,
  props: { row: Object },
  data() { return { clock: Date.now() }; },
  computed: {
    elapsed() {
      // `now` is the server's clock when the row was built: the browser's own clock may be off by minutes.
      const seconds = Math.max(0, Math.floor((this.clock - this.offset - this.row.started) / 1000));
      return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    },
  },
  created() { this.offset = this.row.now ? Date.now() - this.row.now : 0; },
  mounted() { this.timer = setInterval(() => { this.clock = Date.now(); }, 1000); },
  unmounted() { clearInterval(this.timer); },
};

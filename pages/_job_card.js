// One generation's live card, drawn by the browser from one dict (`job`): the server keeps one element per card
// instead of about twenty (issue 18: those elements were nearly the whole heap the garbage collector walks with
// 200 tabs open), and an event changes one prop instead of rebuilding rows. Everything a user typed is bound as
// text or as an attribute value ({{ }}, :alt), which Vue escapes: never as markup, never in a props string.
// The buttons emit events (cancel, retry, try, edit) that the server checks against the card's own prompt.
// Classes and Quasar props are those the NiceGUI elements had (ui.button is no-caps app-wide), so the card looks
// the same and browser tests find the same things (q-badge, .q-img img[alt], [data-image-id], [data-prompt-id]).
export default {
  template: `
    <q-card class="nicegui-card w-full gap-2" :data-prompt-id="job.id">
      <div class="nicegui-row w-full items-center gap-2">
        <q-badge :color="job.color">{{ job.label }}</q-badge>
        <span class="nanogen-clock font-mono text-sm opacity-70">{{ elapsed }}</span>
        <q-spinner v-if="job.running" color="primary" size="sm" :thickness="5" />
        <q-space />
        <div class="text-sm opacity-70">{{ job.cost }}</div>
        <div class="nicegui-row gap-0">
          <q-btn v-if="job.action === 'cancel'" no-caps flat dense color="negative" icon="close" label="Cancel"
                 @click="$emit('cancel')" />
          <q-btn v-if="job.action === 'retry'" no-caps flat dense color="primary" icon="refresh" label="Retry"
                 @click="$emit('retry')" />
        </div>
      </div>
      <div class="text-sm whitespace-pre-wrap break-words" :class="{ 'line-clamp-3': clamped }">{{ job.prompt }}</div>
      <q-btn v-if="job.long" no-caps flat dense size="sm" color="primary" class="self-start"
             :label="clamped ? 'More' : 'Less'" @click="clamped = !clamped" />
      <div class="nicegui-column gap-1 w-full">
        <div v-if="job.running && job.message" class="text-sm nanogen-live">{{ job.message }}</div>
        <div class="nicegui-column gap-1 w-full">
          <div v-if="job.error" class="nicegui-column gap-0">
            <div class="text-sm text-negative">{{ job.error }}</div>
            <div class="text-xs opacity-70">{{ job.hint }}</div>
            <div class="nicegui-row gap-1">
              <q-btn v-for="alt in job.alternatives" :key="alt.id" no-caps flat dense color="primary"
                     icon="swap_horiz" :label="'Try ' + alt.name" @click="$emit('try', alt.id)" />
            </div>
          </div>
          <div v-if="job.finished" class="text-xs opacity-60">{{ job.finished }}</div>
          <div v-if="job.images && job.images.length" class="nicegui-row gap-3">
            <div v-for="id in job.images" :key="id" class="nicegui-column gap-1">
              <q-img :src="url('/files/' + id + '/image')" :alt="job.prompt" :data-image-id="id"
                     class="w-56 max-w-full rounded" />
              <div class="nicegui-row gap-1">
                <q-btn no-caps flat dense color="primary" icon="download" label="Download" download
                       :href="url('/files/' + id + '/image?download=true')" />
                <q-btn no-caps flat dense color="primary" icon="photo_library" label="Open in gallery"
                       :href="url('/gallery?image=' + id)" />
                <q-btn no-caps flat dense color="primary" icon="edit" label="Edit" @click="$emit('edit', id)" />
              </div>
            </div>
          </div>
        </div>
      </div>
      <slot></slot>
    </q-card>`,
  props: { job: Object },
  data() { return { clamped: true, clock: Date.now() }; },
  computed: {
    elapsed() {
      // `now` is the server's clock when the card was built: the browser's own clock may be off by minutes.
      const end = this.job.ended || (this.clock - this.offset);
      const seconds = Math.max(0, Math.floor((end - this.job.started) / 1000));
      return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    },
  },
  methods: {
    url(path) { return (window.path_prefix || "") + path; }, // as ui.image and ui.navigate do under a root path
  },
  created() { this.offset = this.job.now ? Date.now() - this.job.now : 0; },
  mounted() { this.timer = setInterval(() => { if (!this.job.ended) this.clock = Date.now(); }, 1000); },
  unmounted() { clearInterval(this.timer); },
};

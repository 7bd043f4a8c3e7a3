// A run of gallery tiles (up to a page), drawn by the browser from one list (`tiles`): one server element per page of
// tiles instead of five per tile (issue 18: a 60-tile gallery page was ~300 elements to build on every load and to
// walk in every garbage collection, and they stayed as you scrolled). The root is `display: contents`, so the tiles
// sit in the page's grid as before. The browser skips drawing tiles far off screen (`content-visibility: auto`)
// and loads thumbnails as they come near (`loading=lazy`): only what is in view is drawn.
// The prompt is bound as the image's alt attribute (:alt), which Vue escapes: never markup, never a props string.
// Clicks emit events (open, select, edit, drag) with the tile's id; the server acts only on ids this run shows.
// Classes and Quasar props are those the NiceGUI elements had, so tiles look the same and browser tests find the
// same things ([data-image-id], .q-checkbox).
export default {
  template: `
    <div style="display: contents">
      <div v-for="t in tiles" :key="t.id" class="relative group aspect-square rounded overflow-hidden bg-gray-200"
           style="content-visibility: auto; contain-intrinsic-size: auto 200px"
           :draggable="drag_type ? 'true' : 'false'" @dragstart="(e) => drag(e, t.id)">
        <q-img :src="url('/files/' + t.id + '/thumb')" :alt="t.alt" :data-image-id="t.id" fit="cover"
               loading="lazy" no-spinner class="w-full h-full cursor-pointer" @click="$emit('open', t.id)" />
        <q-checkbox :model-value="picked.includes(t.id)" dense class="absolute top-1 left-1 bg-white/70 rounded"
                    @update:model-value="(v) => pick(t.id, v)" />
        <q-icon v-if="t.fav" name="star" color="amber" class="absolute top-1 right-1 text-xl" />
        <q-badge v-if="t.versions > 1" color="primary" class="absolute bottom-1 left-1 flex items-center gap-1">
          <q-icon name="layers" size="xs" /><span>{{ t.versions }}</span>
          <q-tooltip>{{ t.versions }} versions</q-tooltip>
        </q-badge>
        <q-btn v-if="editable" round dense size="sm" color="white" text-color="primary" icon="edit"
               class="absolute bottom-1 right-1" aria-label="Edit this image" @click="$emit('edit', t.id)">
          <q-tooltip>Edit by instruction</q-tooltip>
        </q-btn>
      </div>
    </div>`,
  props: { tiles: Array, selected: Array, drag_type: String, editable: Boolean },
  data() { return { picked: [...(this.selected || [])] }; },
  watch: {
    selected(value) { this.picked = [...(value || [])]; }, // the server cleared or set the selection
  },
  methods: {
    url(path) { return (window.path_prefix || "") + path; }, // as ui.image does under a root path
    pick(id, value) {
      // Ticked at once in this tab; the server keeps the selection and is told.
      this.picked = value ? [...this.picked.filter((p) => p !== id), id] : this.picked.filter((p) => p !== id);
      this.$emit("select", { id, value: !!value });
    },
    drag(e, id) {
      // A drag needs data set (Firefox starts none without it); its type tells a board chip the drop is a tile.
      if (!this.drag_type) return;
      e.dataTransfer.effectAllowed = "copy";
      e.dataTransfer.setData(this.drag_type, "1");
      this.$emit("drag", id);
    },
  },
};
